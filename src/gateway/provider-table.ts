import type { Config, ProviderConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { KeyEntry, Provider } from '../providers/provider.js';
import { createProvider } from '../providers/registry.js';
import { BodyScrubber } from './body-scrub.js';
import { providerSecrets } from './scrub.js';

const KEYS_CACHE_MAX = 1000;

/** One configured provider, precomputed at start / on config change: the request path only reads it. */
export interface ProviderEntry {
  name: string;
  provider: Provider;
  /** The provider's config as JSON: an unchanged provider keeps its entry (and warm connections) across updates. */
  signature: string;
  keys: KeyEntry[];
  timeoutMs: number;
  maxRetries: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Keys usable for a model (memoised, bounded). */
  keysByModel: Map<string, KeyEntry[]>;
  /** Takes what this provider's upstream was sent (keys, secret headers) out of its success answers. */
  scrubber: BodyScrubber;
  /** Set once the upstream answered 404 to a passed-through Responses request: translate from then on. */
  noNativeResponses?: boolean;
}

/** The key-less providers (mock, local servers) use one implicit key. */
export const IMPLICIT_KEY_NAME = 'default';

export function keysFor(entry: ProviderEntry, model: string): KeyEntry[] {
  let c = entry.keysByModel.get(model);
  if (!c) {
    c = entry.keys.filter((k) => k.models.size === 0 || k.models.has(model));
    if (entry.keysByModel.size >= KEYS_CACHE_MAX) entry.keysByModel.clear();
    entry.keysByModel.set(model, c);
  }
  return c;
}

function buildEntry(
  name: string,
  p: ProviderConfig,
  signature: string,
  logger: Logger,
): ProviderEntry | undefined {
  const made = createProvider(name, p);
  if (!made.ok) {
    logger.warn({ provider: name }, made.reason);
    return undefined;
  }
  const n = p.network_config;
  const keys: KeyEntry[] = p.keys.map((k, i) => ({
    name: k.name ?? String(i),
    value: k.value ?? '',
    models: new Set(k.models.filter((m) => m !== '*')),
    weight: k.weight,
    config: k,
  }));
  if (keys.length === 0)
    keys.push({
      name: IMPLICIT_KEY_NAME,
      value: '',
      models: new Set(),
      weight: 1,
      config: { models: [], weight: 1 },
    });
  return {
    name,
    provider: made.provider,
    signature,
    keys,
    timeoutMs: n.default_request_timeout_in_seconds * 1000,
    maxRetries: n.max_retries,
    backoffInitialMs: n.retry_backoff_initial_ms,
    backoffMaxMs: n.retry_backoff_max_ms,
    keysByModel: new Map(),
    scrubber: new BodyScrubber(providerSecrets(p)),
  };
}

/** Builds the next table aside, reusing unchanged entries; returns it with the entries it replaced (to close). */
export function rebuildTable(
  old: ReadonlyMap<string, ProviderEntry>,
  providers: Config['providers'],
  logger: Logger,
): { table: Map<string, ProviderEntry>; replaced: ProviderEntry[] } {
  const table = new Map<string, ProviderEntry>();
  for (const [name, p] of Object.entries(providers)) {
    const signature = JSON.stringify(p);
    const prev = old.get(name);
    const entry = prev && prev.signature === signature ? prev : buildEntry(name, p, signature, logger);
    if (entry) table.set(name, entry);
  }
  const replaced = [...old.values()].filter((e) => table.get(e.name) !== e);
  return { table, replaced };
}
