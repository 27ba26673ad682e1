/**
 * USD per million tokens. Keys are model names (or "provider/model"); the
 * longest key that prefixes the model wins, so dated snapshots
 * ("gpt-4o-2024-08-06") find their family. `governance.pricing` overrides.
 */
export interface Price {
  input_per_million: number;
  output_per_million: number;
}

export const BUILTIN_PRICING: Record<string, Price> = {
  // OpenAI
  'gpt-4o': { input_per_million: 2.5, output_per_million: 10 },
  'gpt-4o-mini': { input_per_million: 0.15, output_per_million: 0.6 },
  'gpt-4.1': { input_per_million: 2, output_per_million: 8 },
  'gpt-4.1-mini': { input_per_million: 0.4, output_per_million: 1.6 },
  'gpt-4.1-nano': { input_per_million: 0.1, output_per_million: 0.4 },
  'gpt-4-turbo': { input_per_million: 10, output_per_million: 30 },
  'gpt-4': { input_per_million: 30, output_per_million: 60 },
  'gpt-3.5-turbo': { input_per_million: 0.5, output_per_million: 1.5 },
  o1: { input_per_million: 15, output_per_million: 60 },
  'o1-mini': { input_per_million: 1.1, output_per_million: 4.4 },
  o3: { input_per_million: 2, output_per_million: 8 },
  'o3-mini': { input_per_million: 1.1, output_per_million: 4.4 },
  'o4-mini': { input_per_million: 1.1, output_per_million: 4.4 },
  'text-embedding-3-small': { input_per_million: 0.02, output_per_million: 0 },
  'text-embedding-3-large': { input_per_million: 0.13, output_per_million: 0 },
  'text-embedding-ada-002': { input_per_million: 0.1, output_per_million: 0 },
  // Anthropic
  'claude-3-5-sonnet': { input_per_million: 3, output_per_million: 15 },
  'claude-3-5-haiku': { input_per_million: 0.8, output_per_million: 4 },
  'claude-3-7-sonnet': { input_per_million: 3, output_per_million: 15 },
  'claude-sonnet-4': { input_per_million: 3, output_per_million: 15 },
  'claude-opus-4': { input_per_million: 15, output_per_million: 75 },
  'claude-3-opus': { input_per_million: 15, output_per_million: 75 },
  'claude-3-haiku': { input_per_million: 0.25, output_per_million: 1.25 },
  'claude-haiku-4': { input_per_million: 1, output_per_million: 5 },
};

/** The mock provider's models cost a tiny fixed amount, so budget tests work without real spend. */
export const MOCK_PRICE: Price = { input_per_million: 1, output_per_million: 2 };

export class PricingTable {
  private readonly entries: [string, Price][];

  constructor(
    overrides: Record<string, Price> = {},
    private readonly providerTypes: (provider: string) => string | undefined = () => undefined,
  ) {
    const merged = new Map<string, Price>(Object.entries(BUILTIN_PRICING));
    for (const [k, v] of Object.entries(overrides)) merged.set(k, v);
    // Longest keys first: the most specific prefix wins.
    this.entries = [...merged].sort((a, b) => b[0].length - a[0].length);
    this.overrides = new Map(Object.entries(overrides));
  }

  private readonly overrides: Map<string, Price>;

  /** Table lookups by "provider/model" (null = not in the table); bounded, rebuilt with the table. */
  private readonly found = new Map<string, Price | null>();

  price(provider: string, model: string): Price | undefined {
    const full = `${provider}/${model}`;
    let p = this.found.get(full);
    if (p === undefined) {
      p = this.lookup(full, model);
      if (this.found.size >= 4096) this.found.clear();
      this.found.set(full, p);
    }
    if (p) return p;
    // Not cached: a provider's type may change while the table stays.
    if (provider === 'mock' || this.providerTypes(provider) === 'mock') return MOCK_PRICE;
    return undefined;
  }

  private lookup(full: string, model: string): Price | null {
    const exact = this.overrides.get(full) ?? this.overrides.get(model);
    if (exact) return exact;
    for (const [k, p] of this.entries) {
      if (k.includes('/')) {
        if (full.startsWith(k)) return p;
      } else if (model.startsWith(k) || model.startsWith(`${k.replace(/\./g, '-')}`)) return p;
    }
    return null;
  }

  /** Cost in USD of one request's tokens (0 for unknown models). */
  cost(provider: string, model: string, promptTokens: number, completionTokens: number): number {
    const p = this.price(provider, model);
    if (!p) return 0;
    return (promptTokens * p.input_per_million + completionTokens * p.output_per_million) / 1e6;
  }
}
