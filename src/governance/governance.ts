import { Counter, type Registry } from 'prom-client';
import {
  CLAIM_CONFIRM_WAIT_MS,
  type CounterClaim,
  type CounterDecision,
  type CounterSpec,
  type DistributedCounters,
} from '../cluster/state/counters.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import type { GovernanceConfig, VirtualKeyConfig } from '../config/schema.js';
import type { Admission, AdmissionRequest, GovernanceHook, Usage } from '../gateway/hooks.js';
import type { Logger } from '../observability/logger.js';
import { HttpError } from '../server/errors.js';
import { type Price, PricingTable } from './pricing.js';

interface CompiledKey {
  vk: VirtualKeyConfig;
  /** "provider/model" exact entries and "provider" for "provider/*". */
  models: Set<string>;
  anyModelOf: Set<string>;
  allModels: boolean;
  req?: CounterSpec;
  tok?: CounterSpec;
  usd?: CounterSpec;
  /** Running average of tokens per request (the reservation when the gateway gives no estimate). */
  avgTokens?: number;
}

export interface GovernanceOptions {
  counters: DistributedCounters;
  config: GovernanceConfig;
  logger?: Logger;
  registry?: Registry;
  now?: () => number;
  /** Provider name -> its type, so custom providers of type "mock" get the mock price. */
  providerType?: (provider: string) => string | undefined;
}

const NOOP_SETTLE = () => undefined;

/**
 * Virtual keys, model permissions, request/token rate limits and budgets.
 * Everything on the request path is local: counters are cluster-wide through
 * DistributedCounters, which never blocks.
 */
export class Governance implements GovernanceHook {
  private byValue = new Map<string, CompiledKey>();
  private byId = new Map<string, CompiledKey>();
  private enforce: boolean;
  private pricing: PricingTable;
  private pricingOverrides: Record<string, Price>;
  private defaultPrice: Price | undefined;
  private unpricedBudgeted: 'charge_nothing' | 'refuse';
  private readonly warnedUnpriced = new Set<string>();
  private readonly now: () => number;
  private readonly metrics?: {
    rejections: Counter<'reason'>;
    spend: Counter<'virtual_key'>;
    tokens: Counter<'virtual_key'>;
  };

  constructor(private readonly opts: GovernanceOptions) {
    this.now = opts.now ?? Date.now;
    this.enforce = opts.config.enforce_virtual_keys;
    this.pricingOverrides = opts.config.pricing;
    this.pricing = new PricingTable(this.pricingOverrides, opts.providerType);
    this.defaultPrice = opts.config.default_price;
    this.unpricedBudgeted = opts.config.unpriced_models;
    this.setVirtualKeys(opts.config.virtual_keys);
    if (opts.registry) {
      this.metrics = {
        rejections: new Counter({
          name: 'deepintshield_governance_rejections_total',
          help: 'Requests refused by governance, by reason',
          labelNames: ['reason'],
          registers: [opts.registry],
        }),
        spend: new Counter({
          name: 'deepintshield_governance_spend_usd_total',
          help: 'Cost charged to virtual keys (USD)',
          labelNames: ['virtual_key'],
          registers: [opts.registry],
        }),
        tokens: new Counter({
          name: 'deepintshield_governance_tokens_total',
          help: 'Tokens charged to virtual keys',
          labelNames: ['virtual_key'],
          registers: [opts.registry],
        }),
      };
    }
  }

  setVirtualKeys(vks: VirtualKeyConfig[]): void {
    const byValue = new Map<string, CompiledKey>();
    const byId = new Map<string, CompiledKey>();
    for (const vk of vks) {
      const c = compile(vk);
      byValue.set(vk.value, c);
      byId.set(vk.id, c);
    }
    this.byValue = byValue;
    this.byId = byId;
    this.warnUnpricedAtStart();
  }

  /** Budgeted keys limited to exact models without a price: their budget would never apply. */
  private warnUnpricedAtStart(): void {
    if (this.defaultPrice) return;
    for (const k of this.byId.values()) {
      if (!k.usd) continue;
      for (const m of k.models) {
        const slash = m.indexOf('/');
        if (slash > 0) {
          const provider = m.slice(0, slash);
          const model = m.slice(slash + 1);
          if (!this.pricing.price(provider, model)) this.warnUnpriced(provider, model, k.vk.id);
        }
      }
    }
  }

  setEnforce(enforce: boolean): void {
    this.enforce = enforce;
  }

  setPricing(overrides: Record<string, Price>, defaultPrice?: Price): void {
    this.pricingOverrides = overrides;
    this.pricing = new PricingTable(overrides, this.opts.providerType);
    if (defaultPrice !== undefined) this.defaultPrice = defaultPrice;
  }

  virtualKeyIds(): string[] {
    return [...this.byId.keys()];
  }

  cost(provider: string, model: string, prompt: number, completion: number): number {
    return this.costOf(provider, model, prompt, completion);
  }

  /** Only who is asking (a 401 or nothing), counting nothing: for routes that are no inference, such as /v1/models. */
  authenticate(req: Pick<AdmissionRequest, 'virtualKey' | 'virtualKeySource'>): HttpError | undefined {
    const who = this.identify(req);
    return 'settle' in who ? who.reject : undefined;
  }

  /** The virtual key of a request, or the admission to answer with when there is none (a 401, or no key). */
  private identify(req: Pick<AdmissionRequest, 'virtualKey' | 'virtualKeySource'>): Admission | CompiledKey {
    const raw = req.virtualKey;
    const k = raw ? this.byValue.get(raw) : undefined;
    if (!k) {
      const fromHeader = req.virtualKeySource === 'x-deepintshield-vk';
      if (raw && (this.enforce || fromHeader))
        return this.reject(
          'unknown_key',
          new HttpError(401, 'invalid virtual key', 'authentication_error', 'invalid_virtual_key'),
        );
      if (this.enforce)
        return this.reject(
          'missing_key',
          new HttpError(
            401,
            'a virtual key is required: send it in the x-deepintshield-vk header or as Authorization: Bearer',
            'authentication_error',
            'virtual_key_required',
          ),
        );
      // Not enforced: a bearer/x-api-key value that is no virtual key is an SDK's placeholder.
      return { settle: NOOP_SETTLE };
    }
    if (k.vk.disabled)
      return this.reject(
        'disabled_key',
        new HttpError(
          401,
          `virtual key "${k.vk.id}" is disabled`,
          'authentication_error',
          'virtual_key_disabled',
        ),
        k.vk.id,
      );
    return k;
  }

  admit(req: AdmissionRequest): Admission {
    const who = this.identify(req);
    if ('settle' in who) return who;
    const k = who;
    const id = k.vk.id;
    const targets = [{ provider: req.provider, model: req.model }, ...(req.fallbacks ?? [])];
    for (const [i, t] of targets.entries()) {
      if (allowed(k, t.provider, t.model)) continue;
      const field = i === 0 ? '' : ` (fallbacks[${i - 1}])`;
      return this.reject(
        'model_not_allowed',
        new HttpError(
          403,
          `model "${t.provider}/${t.model}"${field} is not allowed for virtual key "${id}"`,
          'permission_error',
          'model_not_allowed',
        ),
        id,
      );
    }
    const unpriced = k.usd ? targets.filter((t) => !this.pricing.price(t.provider, t.model)) : [];
    for (const t of unpriced) this.warnUnpriced(t.provider, t.model, id);
    if (unpriced.length > 0 && this.unpricedBudgeted === 'refuse' && !this.defaultPrice) {
      const t = unpriced[0]!;
      return this.reject(
        'unpriced_model',
        new HttpError(
          403,
          `model "${t.provider}/${t.model}" has no price, so the budget of virtual key "${id}" cannot apply: add it to governance.pricing or set governance.default_price`,
          'permission_error',
          'model_not_priced',
        ),
        id,
      );
    }
    // One call into the limiter for every limit of the key: requests are consumed now, tokens and
    // dollars reserved (estimate) and settled with what the request really used.
    const est = this.estimate(k, req);
    const claims: CounterClaim[] = [];
    const kinds: ('req' | 'tok' | 'usd')[] = [];
    if (k.req) {
      claims.push({ spec: k.req, amount: 1, consume: true });
      kinds.push('req');
    }
    if (k.tok) {
      claims.push({ spec: k.tok, amount: Math.min(est.tokens, k.tok.limit), upTo: est.guess });
      kinds.push('tok');
    }
    if (k.usd) {
      claims.push({ spec: k.usd, amount: Math.min(est.usd, k.usd.limit), upTo: est.guess });
      kinds.push('usd');
    }
    const now = this.now();
    const headers: Record<string, string> = {};
    if (claims.length === 0) return { virtualKeyId: id, headers, settle: (u) => this.settleUsage(k, id, u) };
    const res = this.opts.counters.admit(claims, { again: req.again === true });
    kinds.forEach((kind, i) => {
      if (kind !== 'usd')
        rateHeaders(headers, kind === 'req' ? 'requests' : 'tokens', res.decisions[i]!, now);
    });
    if (!res.ok) {
      const i = res.refused;
      const kind = kinds[i]!;
      const d = res.decisions[i]!;
      const retry = { 'retry-after': retryAfter(d, claims[i]!.amount, now) };
      const err =
        kind === 'usd'
          ? new HttpError(
              402,
              `budget exhausted for virtual key "${id}": $${k.usd!.limit} per ${describe(k.vk.budget?.reset_duration)}`,
              'insufficient_quota',
              'budget_exceeded',
              retry,
            )
          : new HttpError(
              429,
              kind === 'req'
                ? `request rate limit reached for virtual key "${id}": ${k.req!.limit} requests per ${describe(k.vk.rate_limit?.request_reset_duration)}`
                : `token rate limit reached for virtual key "${id}": ${k.tok!.limit} tokens per ${describe(k.vk.rate_limit?.token_reset_duration)}`,
              'rate_limit_error',
              'rate_limit_exceeded',
              { ...headers, ...retry },
            );
      // Not a refusal yet: the room is this node's within a round trip, once its claim is confirmed.
      const wait =
        d.pending && !req.again
          ? this.opts.counters.claimsSettled(claims[i]!.spec, CLAIM_CONFIRM_WAIT_MS)
          : undefined;
      return this.reject(
        kind === 'usd' ? 'budget' : kind === 'req' ? 'request_limit' : 'token_limit',
        err,
        id,
        wait,
      );
    }
    return {
      virtualKeyId: id,
      headers,
      settle: (usage: Usage | null) => {
        const charged = this.settleUsage(k, id, usage);
        res.settle(
          kinds.map((kind) => (kind === 'tok' ? charged.tokens : kind === 'usd' ? charged.usd : undefined)),
        );
      },
    };
  }

  /** Metrics and the running estimate; returns what the limiter charges (nothing when no usage is known). */
  private settleUsage(k: CompiledKey, id: string, usage: Usage | null): { tokens?: number; usd?: number } {
    if (!usage) return {};
    const prompt = Math.max(0, usage.promptTokens || 0);
    const completion = Math.max(0, usage.completionTokens || 0);
    const tokens = prompt + completion;
    k.avgTokens = k.avgTokens === undefined ? tokens : 0.8 * k.avgTokens + 0.2 * tokens;
    this.metrics?.tokens.inc({ virtual_key: id }, tokens);
    const usd = this.costOf(
      usage.provider,
      usage.model,
      prompt,
      completion,
      k.usd !== undefined ? id : undefined,
    );
    if (usd > 0) this.metrics?.spend.inc({ virtual_key: id }, usd);
    return { tokens, usd };
  }

  /** What a request may use: the gateway's estimate (prompt + max_tokens), else the key's running average. */
  private estimate(k: CompiledKey, req: AdmissionRequest): { tokens: number; usd: number; guess: boolean } {
    const given = req.estimatedTokens;
    const bound = given !== undefined && Number.isFinite(given) && given > 0;
    const tokens = bound ? given : (k.avgTokens ?? 0);
    const guess = !bound;
    if (!k.usd || tokens <= 0) return { tokens, usd: 0, guess };
    let perToken = 0;
    for (const t of [{ provider: req.provider, model: req.model }, ...(req.fallbacks ?? [])]) {
      const p = this.pricing.price(t.provider, t.model) ?? this.defaultPrice;
      if (p) perToken = Math.max(perToken, Math.max(p.input_per_million, p.output_per_million) / 1e6);
    }
    return { tokens, usd: tokens * perToken, guess };
  }

  private costOf(
    provider: string,
    model: string,
    prompt: number,
    completion: number,
    budgetedKey?: string,
  ): number {
    const p = this.pricing.price(provider, model) ?? this.defaultPrice;
    if (!p) {
      if (budgetedKey) this.warnUnpriced(provider, model, budgetedKey);
      return 0;
    }
    return (prompt * p.input_per_million + completion * p.output_per_million) / 1e6;
  }

  private warnUnpriced(provider: string, model: string, keyId: string): void {
    const m = `${provider}/${model}`;
    if (this.warnedUnpriced.has(m) || this.warnedUnpriced.size > 1000) return;
    this.warnedUnpriced.add(m);
    this.opts.logger?.warn(
      { model: m, virtual_key: keyId, default_price: this.defaultPrice ?? null },
      this.defaultPrice
        ? 'model has no price: charging governance.default_price to budgets'
        : 'model has no price: it costs $0, so budgets do not apply to it (set governance.pricing or governance.default_price)',
    );
  }

  /** A refusal; with `wait` (a claim being confirmed) not counted yet: the request asks again. */
  private reject(reason: string, err: HttpError, id?: string, wait?: Promise<void>): Admission {
    if (!wait) this.metrics?.rejections.inc({ reason });
    return {
      reject: err,
      virtualKeyId: id,
      headers: err.headers,
      settle: NOOP_SETTLE,
      ...(wait && { wait }),
    };
  }

  /** Usage of one key's current windows (admin/debug). */
  usage(id: string): Record<string, { used: number; limit: number }> | undefined {
    const k = this.byId.get(id);
    if (!k) return undefined;
    const out: Record<string, { used: number; limit: number }> = {};
    for (const [name, spec] of [
      ['requests', k.req],
      ['tokens', k.tok],
      ['budget_usd', k.usd],
    ] as const) {
      if (spec) out[name] = { used: this.opts.counters.used(spec), limit: spec.limit };
    }
    return out;
  }
}

function allowed(k: CompiledKey, provider: string, model: string): boolean {
  return k.allModels || k.models.has(`${provider}/${model}`) || k.anyModelOf.has(provider);
}

function compile(vk: VirtualKeyConfig): CompiledKey {
  const models = new Set<string>();
  const anyModelOf = new Set<string>();
  let allModels = vk.allowed_models.length === 0;
  for (const m of vk.allowed_models) {
    if (m === '*' || m === '*/*') allModels = true;
    else if (m.endsWith('/*')) anyModelOf.add(m.slice(0, -2));
    else models.add(m);
  }
  const c: CompiledKey = { vk, models, anyModelOf, allModels };
  const rl = vk.rate_limit;
  if (rl?.request_max_limit)
    c.req = {
      key: `vk:${vk.id}:req`,
      limit: rl.request_max_limit,
      duration: parseDuration(rl.request_reset_duration),
      integer: true,
    };
  if (rl?.token_max_limit)
    c.tok = {
      key: `vk:${vk.id}:tok`,
      limit: rl.token_max_limit,
      duration: parseDuration(rl.token_reset_duration),
    };
  if (vk.budget)
    c.usd = {
      key: `vk:${vk.id}:usd`,
      limit: vk.budget.max_limit,
      duration: parseDuration(vk.budget.reset_duration),
    };
  return c;
}

function describe(d: string | number | undefined): string {
  if (d === undefined) return '?';
  return typeof d === 'number' ? `${d}s` : d || formatDuration(parseDuration(d));
}

function rateHeaders(
  h: Record<string, string>,
  kind: 'requests' | 'tokens',
  d: CounterDecision,
  now: number,
): void {
  h[`x-ratelimit-limit-${kind}`] = String(d.limit);
  h[`x-ratelimit-remaining-${kind}`] = String(Math.max(0, Math.floor(d.remaining)));
  h[`x-ratelimit-reset-${kind}`] = `${Math.max(0, Math.ceil((d.resetAt - now) / 1000))}s`;
}

/**
 * When a request would really be admitted: within a second when the cluster still has room for it (it
 * is held by other nodes' claims, which they release or this node re-claims within a gossip round),
 * else when the window resets.
 */
function retryAfter(d: CounterDecision, amount: number, now: number): string {
  if (d.clusterRemaining >= Math.max(1e-9, amount)) return '1';
  return String(Math.max(1, Math.ceil((d.resetAt - now) / 1000)));
}
