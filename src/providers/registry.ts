import type { ProviderConfig } from '../config/schema.js';
import { providerTypeOf } from '../config/schema.js';
import { anthropicProvider } from './anthropic/index.js';
import { azureProvider } from './azure/index.js';
import { bedrockProvider } from './bedrock/index.js';
import { cohereProvider } from './cohere/index.js';
import { geminiProvider } from './gemini/index.js';
import { createUpstreamClient } from './http/client.js';
import { mockProvider } from './mock/index.js';
import { openaiProvider } from './openai/index.js';
import { PRESETS } from './presets.js';
import type { Provider, ProviderDefinition } from './provider.js';
import {
  isPresetType,
  NATIVE_PROVIDER_TYPES,
  type NativeProviderType,
  PROVIDER_TYPES,
  type ProviderType,
} from './provider-types.js';
import { vertexProvider } from './vertex/index.js';

/**
 * type → implementation. One line per provider folder (see
 * src/providers/provider.ts for how a provider plugs in). OpenAI-compatible
 * presets (src/providers/presets.ts) are served by the `openai` entry.
 */
const PROVIDERS: { readonly [T in NativeProviderType]?: ProviderDefinition } = {
  openai: openaiProvider,
  azure: azureProvider,
  anthropic: anthropicProvider,
  bedrock: bedrockProvider,
  cohere: cohereProvider,
  gemini: geminiProvider,
  vertex: vertexProvider,
  mock: mockProvider,
};

/** The definition serving a type, or undefined when this build has no code for it. */
export function definitionOf(type: ProviderType): ProviderDefinition | undefined {
  if (isPresetType(type)) return PROVIDERS.openai;
  return PROVIDERS[type];
}

/** The types this build can serve (a subset of the schema's enum until every folder exists). */
export function servedTypes(): ProviderType[] {
  return PROVIDER_TYPES.filter((t) => definitionOf(t) !== undefined);
}

export type CreateResult = { ok: true; provider: Provider } | { ok: false; reason: string };

/** Builds a live provider for `providers.<name>` (its own pools), or says why not. */
export function createProvider(name: string, config: ProviderConfig): CreateResult {
  const type = providerTypeOf(name, config);
  if (!type)
    return {
      ok: false,
      reason: `provider "${name}" has no known type; set "type" to one of ${servedTypes().join(', ')}`,
    };
  const def = definitionOf(type);
  if (!def) return { ok: false, reason: `provider type "${type}" is not available in this build` };
  const preset = isPresetType(type) ? PRESETS[type] : undefined;
  try {
    const provider = def.create({
      name,
      type,
      config,
      preset,
      http: createUpstreamClient(config.network_config),
    });
    return { ok: true, provider };
  } catch (err) {
    return { ok: false, reason: `provider "${name}": ${(err as Error).message}` };
  }
}

/** One row per type for docs/providers.md and `type` error messages. */
export function providerTable(): { type: ProviderType; api: string; auth: string; baseUrl: string }[] {
  const rows: { type: ProviderType; api: string; auth: string; baseUrl: string }[] = [];
  for (const t of NATIVE_PROVIDER_TYPES) {
    const d = PROVIDERS[t];
    if (d) rows.push({ type: t, api: d.api, auth: d.auth, baseUrl: d.defaultBaseUrl ?? '–' });
  }
  for (const [t, p] of Object.entries(PRESETS))
    rows.push({
      type: t as ProviderType,
      api: `${p.label}, OpenAI-compatible`,
      auth: p.keyRequired ? 'Authorization: Bearer <value>' : 'optional Bearer',
      baseUrl: p.baseUrl ?? '(required)',
    });
  return rows;
}
