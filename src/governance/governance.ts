import { Counter, type Registry } from 'prom-client';
import type { CounterDecision, CounterSpec, DistributedCounters } from '../cluster/state/counters.js';
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
  }

  setEnforce(enforce: boolean): void {
    this.enforce = enforce;
  }

  setPricing(overrides: Record<string, Price>): void {
    this.pricingOverrides = overrides;
    this.pricing = new PricingTable(overrides, this.opts.providerType);
  }

  virtualKeyIds(): string[] {
    return [...this.byId.keys()];
  }

  cost(provider: string, model: string, prompt: number, completion: number): number {
    return this.pricing.cost(provider, model, prompt, completion);
  }

  admit(req: AdmissionRequest): Admission {
    const raw = req.virtualKey;
    if (raw === undefined || raw === '') {
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
      return { settle: NOOP_SETTLE };
    }
    const k = this.byValue.get(raw);
    if (!k) {
      // With no virtual keys at all and enforcement off, a client's placeholder API key is not an error.
      if (!this.enforce && this.byValue.size === 0) return { settle: NOOP_SETTLE };
      return this.reject(
        'unknown_key',
        new HttpError(401, 'invalid virtual key', 'authentication_error', 'invalid_virtual_key'),
      );
    }
    const id = k.vk.id;
    if (k.vk.disabled)
      return this.reject(
        'disabled_key',
        new HttpError(401, `virtual key "${id}" is disabled`, 'authentication_error', 'virtual_key_disabled'),
        id,
      );
    if (!k.allModels && !k.models.has(`${req.provider}/${req.model}`) && !k.anyModelOf.has(req.provider))
      return this.reject(
        'model_not_allowed',
        new HttpError(
          403,
          `model "${req.provider}/${req.model}" is not allowed for virtual key "${id}"`,
          'permission_error',
          'model_not_allowed',
        ),
        id,
      );
    const counters = this.opts.counters;
    const headers: Record<string, string> = {};
    // Non-consuming checks first, so a refusal does not spend a request slot.
    let tok: CounterDecision | undefined;
    if (k.tok) {
      tok = counters.check(k.tok);
      rateHeaders(headers, 'tokens', tok, this.now());
      if (!tok.ok)
        return this.reject(
          'token_limit',
          new HttpError(
            429,
            `token rate limit reached for virtual key "${id}": ${k.tok.limit} tokens per ${describe(k.vk.rate_limit?.token_reset_duration)}`,
            'rate_limit_error',
            'rate_limit_exceeded',
            { ...headers, 'retry-after': retryAfter(tok, this.now()) },
          ),
          id,
        );
    }
    if (k.usd) {
      const b = counters.check(k.usd);
      if (!b.ok)
        return this.reject(
          'budget',
          new HttpError(
            402,
            `budget exhausted for virtual key "${id}": $${k.usd.limit} per ${describe(k.vk.budget?.reset_duration)}`,
            'insufficient_quota',
            'budget_exceeded',
            { 'retry-after': retryAfter(b, this.now()) },
          ),
          id,
        );
    }
    if (k.req) {
      const r = counters.acquire(k.req, 1);
      rateHeaders(headers, 'requests', r, this.now());
      if (!r.ok)
        return this.reject(
          'request_limit',
          new HttpError(
            429,
            `request rate limit reached for virtual key "${id}": ${k.req.limit} requests per ${describe(k.vk.rate_limit?.request_reset_duration)}`,
            'rate_limit_error',
            'rate_limit_exceeded',
            { ...headers, 'retry-after': retryAfter(r, this.now()) },
          ),
          id,
        );
    }
    let settled = false;
    return {
      virtualKeyId: id,
      headers,
      settle: (usage: Usage | null) => {
        if (settled || !usage) return;
        settled = true;
        const tokens = Math.max(0, (usage.promptTokens || 0) + (usage.completionTokens || 0));
        if (k.tok && tokens > 0) counters.add(k.tok, tokens);
        this.metrics?.tokens.inc({ virtual_key: id }, tokens);
        const usd = this.pricing.cost(
          usage.provider,
          usage.model,
          usage.promptTokens || 0,
          usage.completionTokens || 0,
        );
        if (usd > 0) {
          if (k.usd) counters.add(k.usd, usd);
          this.metrics?.spend.inc({ virtual_key: id }, usd);
        }
      },
    };
  }

  private reject(reason: string, err: HttpError, id?: string): Admission {
    this.metrics?.rejections.inc({ reason });
    return { reject: err, virtualKeyId: id, headers: err.headers, settle: NOOP_SETTLE };
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

/** Seconds until the window resets; 1 when the cluster still has room (this node is waiting for its share). */
function retryAfter(d: CounterDecision, now: number): string {
  if (d.remaining >= 1) return '1';
  return String(Math.max(1, Math.ceil((d.resetAt - now) / 1000)));
}
