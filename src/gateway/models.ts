import type { Logger } from '../observability/logger.js';
import { MOCK_MODELS } from '../providers/mock/index.js';
import { PRESETS } from '../providers/presets.js';
import { isPresetType } from '../providers/provider-types.js';
import { Cancel } from '../providers/types.js';
import type { ProviderEntry } from './provider-table.js';

export const MODEL_REFRESH_MS = 10 * 60_000;
const MAX_LISTED = 5000;

export interface ModelInfo {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/**
 * The models each provider serves: the union of its keys' `models` and the
 * upstream's own list (fetched at start and every MODEL_REFRESH_MS; the last
 * good list is kept when a fetch fails). Also the "known models" the metric
 * labels may use.
 */
export class ModelCatalog {
  private table: ReadonlyMap<string, ProviderEntry> = new Map();
  /** Upstream lists, per provider name (last good). */
  private readonly listed = new Map<string, { entry: ProviderEntry; ids: Set<string> }>();
  private byProvider = new Map<string, Set<string>>();
  private body = '{"object":"list","data":[]}';
  private anthropicBody = '{"data":[],"has_more":false,"first_id":null,"last_id":null}';
  private timer: NodeJS.Timeout | undefined;
  private readonly cancel = new Cancel();

  constructor(
    private readonly logger: Logger,
    private readonly fetchUpstream: boolean,
    private readonly refreshMs = MODEL_REFRESH_MS,
  ) {}

  /** New provider table: recompute from keys at once, then refresh upstream lists in the background. */
  update(table: ReadonlyMap<string, ProviderEntry>): void {
    this.table = table;
    for (const [name, l] of this.listed) if (table.get(name) !== l.entry) this.listed.delete(name);
    this.rebuild();
    if (this.fetchUpstream) {
      void this.refresh(true);
      if (!this.timer && this.refreshMs > 0) {
        this.timer = setInterval(() => void this.refresh(), this.refreshMs);
        this.timer.unref();
      }
    }
  }

  known(provider: string, model: string): boolean {
    return this.byProvider.get(provider)?.has(model) === true;
  }

  /** GET /v1/models body. */
  listBody(): string {
    return this.body;
  }

  /** GET /anthropic/v1/models body. */
  anthropicListBody(): string {
    return this.anthropicBody;
  }

  /** One model, or undefined. */
  get(provider: string, model: string): ModelInfo | undefined {
    return this.known(provider, model)
      ? { id: `${provider}/${model}`, object: 'model', created: 0, owned_by: provider }
      : undefined;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.cancel.abort();
  }

  private rebuild(): void {
    const by = new Map<string, Set<string>>();
    for (const [name, e] of this.table) {
      const ids = new Set<string>();
      if (e.provider.type === 'mock') for (const m of MOCK_MODELS) ids.add(m);
      for (const k of e.keys) for (const m of k.models) ids.add(m);
      const l = this.listed.get(name);
      if (l) for (const m of l.ids) ids.add(m);
      by.set(name, ids);
    }
    this.byProvider = by;
    const data: ModelInfo[] = [];
    const anth: { type: 'model'; id: string; display_name: string; created_at: string }[] = [];
    for (const [name, ids] of by)
      for (const id of ids) {
        data.push({ id: `${name}/${id}`, object: 'model', created: 0, owned_by: name });
        anth.push({
          type: 'model',
          id: `${name}/${id}`,
          display_name: id,
          created_at: '1970-01-01T00:00:00Z',
        });
      }
    this.body = JSON.stringify({ object: 'list', data });
    this.anthropicBody = JSON.stringify({
      data: anth,
      has_more: false,
      first_id: anth[0]?.id ?? null,
      last_id: anth[anth.length - 1]?.id ?? null,
    });
  }

  /** Fetches upstream lists; `onlyNew` skips providers whose list is already known (a config update). */
  private async refresh(onlyNew = false): Promise<void> {
    const table = this.table;
    await Promise.all(
      [...table.values()].map(async (e) => {
        if (onlyNew && this.listed.get(e.name)?.entry === e) return;
        const p = e.provider;
        if (!p.listModels || p.type === 'mock') return;
        const key = e.keys[0]!;
        const needsKey =
          p.type === 'openai' ||
          p.type === 'anthropic' ||
          (isPresetType(p.type) && PRESETS[p.type].keyRequired);
        if (needsKey && !e.keys.some((k) => k.value)) return;
        if (isPresetType(p.type) && !PRESETS[p.type].listsModels) return;
        try {
          const ids = await p.listModels(key, this.cancel);
          if (this.table.get(e.name) !== e) return;
          this.listed.set(e.name, { entry: e, ids: new Set(ids.slice(0, MAX_LISTED)) });
        } catch (err) {
          this.logger.debug(
            { provider: e.name, err: (err as Error).message },
            'model list fetch failed; last good list kept',
          );
        }
      }),
    );
    this.rebuild();
  }
}
