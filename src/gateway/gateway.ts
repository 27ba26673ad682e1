import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { type Config, type ProviderConfig, type ProviderType, providerTypeOf } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { AnthropicProvider } from '../providers/anthropic.js';
import { MOCK_MODELS, MockEngine } from '../providers/mock/engine.js';
import { OpenAIProvider } from '../providers/openai.js';
import {
  chatResponseToMessages,
  messagesRequestToChat,
  OpenAIToAnthropicStream,
} from '../providers/translate/anthropic-to-openai.js';
import {
  AnthropicToOpenAIStream,
  chatRequestToMessages,
  messagesResponseToChat,
} from '../providers/translate/openai-to-anthropic.js';
import { SseParser } from '../providers/translate/sse.js';
import {
  Cancel,
  type KeyEntry,
  type Operation,
  type ProviderAdapter,
  UpstreamError,
  type UpstreamResponse,
  type WireFormat,
} from '../providers/types.js';
import { parseJsonObject, readBody } from '../server/body.js';
import { HttpError, sendError } from '../server/errors.js';
import type { RequestContext, Route } from '../server/router.js';
import type { GovernanceHook, ProviderKeyGate } from './hooks.js';
import { GatewayMetrics } from './metrics.js';
import { findUsageObject, foldUsage, parseObjectAt, type TokenCount, usageOfJson } from './usage.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  registry: Registry;
  governance: GovernanceHook;
  keyGate?: ProviderKeyGate;
}

type Obj = Record<string, unknown>;

/** One provider, precomputed at start / on config change: the request path only reads it. */
interface ProviderEntry {
  name: string;
  type: ProviderType;
  adapter: ProviderAdapter;
  /** The provider's config as JSON: an unchanged provider keeps its entry (and warm connections) across updates. */
  signature: string;
  keys: KeyEntry[];
  timeoutMs: number;
  maxRetries: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Keys usable for a model (memoised, bounded). */
  keysByModel: Map<string, KeyEntry[]>;
}

interface Target {
  provider: ProviderEntry;
  model: string;
  /** Operation sent upstream (differs from the client's when translating). */
  op: Operation;
}

interface Attempted {
  target: Target;
  key: KeyEntry;
  resp: UpstreamResponse;
  upstreamBody: Obj;
}

/** Returned when the client went away: nothing is sent. */
const ABORTED = new HttpError(499, 'client closed the request', 'invalid_request_error', 'client_closed');
const MOCK_KEY: KeyEntry = { name: 'mock', value: 'mock', models: new Set(), weight: 1 };
const KEYS_CACHE_MAX = 1000;
const MAX_PENDING_EVENT = 1024 * 1024;
const ROUTES: { path: string; op: Operation; format: WireFormat }[] = [
  { path: '/v1/chat/completions', op: 'chat', format: 'openai' },
  { path: '/v1/completions', op: 'completions', format: 'openai' },
  { path: '/v1/embeddings', op: 'embeddings', format: 'openai' },
  { path: '/anthropic/v1/messages', op: 'messages', format: 'anthropic' },
];
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

/**
 * The inference path: parse once, admit through governance, pick a key,
 * call the upstream with retries, key switching and fallbacks, then answer
 * (passing upstream bytes through when no translation is needed).
 */
export class Gateway {
  private table = new Map<string, ProviderEntry>();
  private modelsBody = '{"object":"list","data":[]}';
  private readonly metrics: GatewayMetrics;
  private readonly maxBody: number;

  constructor(private readonly opts: GatewayOptions) {
    this.metrics = new GatewayMetrics(opts.registry);
    this.maxBody = opts.config.server.max_body_bytes;
    this.updateProviders(opts.config.providers);
  }

  routes(): Route[] {
    const routes: Route[] = ROUTES.map((r) => ({
      method: 'POST' as const,
      path: r.path,
      handler: (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) =>
        this.handle(req, res, ctx, r.op, r.format, r.path),
    }));
    routes.push({
      method: 'GET',
      path: '/v1/models',
      handler: (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(this.modelsBody),
        });
        res.end(this.modelsBody);
      },
    });
    return routes;
  }

  /** Builds the new provider table (pools included) aside, swaps it in, then closes what it replaced. */
  updateProviders(providers: Config['providers']): void {
    const next = new Map<string, ProviderEntry>();
    const models: { id: string; object: 'model'; created: number; owned_by: string }[] = [];
    const old = this.table;
    for (const [name, p] of Object.entries(providers)) {
      const signature = JSON.stringify(p);
      const prev = old.get(name);
      const entry = prev && prev.signature === signature ? prev : buildEntry(name, p, signature);
      if (!entry) {
        this.opts.logger.warn(
          { provider: name },
          'provider has no known type; set "type" to openai, anthropic or mock',
        );
        continue;
      }
      next.set(name, entry);
      const ids = new Set<string>();
      if (entry.type === 'mock') for (const m of MOCK_MODELS) ids.add(m);
      for (const k of p.keys) for (const m of k.models) ids.add(m);
      for (const id of ids) models.push({ id: `${name}/${id}`, object: 'model', created: 0, owned_by: name });
    }
    this.table = next;
    this.modelsBody = JSON.stringify({ object: 'list', data: models });
    // In-flight requests hold their entry; a closing pool lets them finish.
    for (const [name, e] of old) if (next.get(name) !== e) void e.adapter.close();
  }

  async close(): Promise<void> {
    const old = this.table;
    this.table = new Map();
    await Promise.all([...old.values()].map((e) => e.adapter.close()));
  }

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    op: Operation,
    format: WireFormat,
    route: string,
  ): Promise<void> {
    const body = parseJsonObject(await readBody(req, this.maxBody));
    const table = this.table;
    const modelRef = body.model;
    const primary = this.resolve(table, modelRef, op, 'model');
    const stream = body.stream;
    if (stream !== undefined && typeof stream !== 'boolean')
      throw badField('stream', 'must be a boolean', stream);
    validateBody(op, body);
    const targets = [primary];
    const fb = body.fallbacks;
    if (fb !== undefined) {
      if (!Array.isArray(fb)) throw badField('fallbacks', 'must be an array of "provider/model" strings', fb);
      for (let i = 0; i < fb.length; i++) targets.push(this.resolve(table, fb[i], op, `fallbacks[${i}]`));
      delete body.fallbacks;
    }
    const admission = this.opts.governance.admit({
      virtualKey: virtualKeyOf(req, format),
      provider: primary.provider.name,
      model: primary.model,
      route,
    });
    if (admission.reject) {
      const err = admission.reject;
      this.count(primary, err.status);
      sendError(
        res,
        admission.headers && admission.headers !== err.headers ? withHeaders(err, admission.headers) : err,
      );
      admission.settle(null);
      return;
    }
    if (admission.headers) for (const k in admission.headers) res.setHeader(k, admission.headers[k]!);
    const ctrl = new Cancel();
    const onClose = () => {
      if (!res.writableFinished) ctrl.abort();
    };
    res.once('close', onClose);
    let settled = false;
    const settle = (target: Target, usage: TokenCount | undefined, key?: KeyEntry) => {
      if (settled) return;
      settled = true;
      if (!usage) return admission.settle(null);
      admission.settle({
        provider: target.provider.name,
        model: target.model,
        promptTokens: usage.prompt,
        completionTokens: usage.completion,
      });
      const total = usage.prompt + usage.completion;
      if (usage.prompt > 0)
        this.metrics.tokens.inc({ provider: target.provider.name, kind: 'prompt' }, usage.prompt);
      if (usage.completion > 0)
        this.metrics.tokens.inc({ provider: target.provider.name, kind: 'completion' }, usage.completion);
      if (key && key !== MOCK_KEY && total > 0)
        this.opts.keyGate?.recordTokens(target.provider.name, key.name, total);
    };
    try {
      const got = await this.attempt(targets, body, stream === true, ctrl, ctx.requestId, op);
      if (got instanceof HttpError) {
        this.count(primary, got.status);
        settle(primary, undefined);
        if (!ctrl.aborted) sendError(res, got);
        return;
      }
      const usage =
        stream === true
          ? await this.sendStream(res, got, op, format, ctx, body)
          : this.sendJsonAnswer(res, got, op, format);
      this.count(got.target, res.statusCode);
      settle(got.target, usage, got.key);
    } catch (err) {
      settle(primary, undefined);
      if (err instanceof UpstreamError) {
        // Failure after the first byte: nothing to retry; end the stream.
        this.metrics.upstreamErrors.inc({ provider: primary.provider.name, kind: err.kind });
        this.count(primary, err.kind === 'aborted' ? 499 : 502);
        if (!res.headersSent) sendError(res, toHttpError(err));
        else res.destroy();
        return;
      }
      throw err;
    } finally {
      res.off('close', onClose);
    }
  }

  private count(t: Target, status: number): void {
    this.metrics.requests.inc({
      provider: t.provider.name,
      model: this.metrics.modelLabel(t.provider.name, t.model),
      status,
    });
  }

  private resolve(table: Map<string, ProviderEntry>, ref: unknown, op: Operation, field: string): Target {
    if (typeof ref !== 'string' || ref.length === 0)
      throw badField(field, 'must be a string of the form "provider/model"', ref);
    const slash = ref.indexOf('/');
    if (slash <= 0 || slash === ref.length - 1)
      throw badField(field, 'must be of the form "provider/model"', ref);
    const name = ref.slice(0, slash);
    const provider = table.get(name);
    if (!provider)
      throw new HttpError(
        400,
        `${field}: unknown provider "${name.slice(0, 64)}"`,
        'invalid_request_error',
        'unknown_provider',
      );
    const model = ref.slice(slash + 1);
    let upstreamOp: Operation | undefined;
    if (provider.adapter.supports(op)) upstreamOp = op;
    else if (op === 'chat' && provider.adapter.supports('messages')) upstreamOp = 'messages';
    else if (op === 'messages' && provider.adapter.supports('chat')) upstreamOp = 'chat';
    if (!upstreamOp)
      throw new HttpError(
        400,
        `${field}: provider "${name}" (${provider.type}) does not support ${op}`,
        'invalid_request_error',
        'unsupported_operation',
      );
    return { provider, model, op: upstreamOp };
  }

  /** Tries each target with its retries; returns the first usable answer or the error to send. */
  private async attempt(
    targets: Target[],
    body: Obj,
    stream: boolean,
    signal: Cancel,
    requestId: string,
    clientOp: Operation,
  ): Promise<Attempted | HttpError> {
    // Created only on failure: an Error captures a stack trace, too costly for every request.
    let last: HttpError | undefined;
    const gate = this.opts.keyGate;
    const m = this.metrics;
    for (let t = 0; t < targets.length; t++) {
      const target = targets[t]!;
      const p = target.provider;
      if (t > 0) m.fallbacks.inc({ provider: p.name });
      const upstreamBody = upstreamBodyFor(body, target, clientOp, stream);
      let avoid: Set<KeyEntry> | undefined;
      let backoff = false;
      let keySwitches = 0;
      for (let attempt = 0; attempt <= p.maxRetries; attempt++) {
        if (signal.aborted) return ABORTED;
        if (attempt > 0) {
          m.retries.inc({ provider: p.name });
          if (backoff) {
            const cap = Math.min(p.backoffMaxMs, p.backoffInitialMs * 2 ** (attempt - 1));
            if (cap > 0) await sleep(Math.random() * cap, signal);
            if (signal.aborted) return ABORTED;
          }
        }
        const key = this.pickKey(p, target.model, avoid);
        if (!key) {
          // Keep an upstream's own answer (a 429, a 5xx) when there was one: it says more.
          last ??= new HttpError(
            503,
            `no usable key for ${p.name}/${target.model} (all cooling down, rate-limited or not serving this model)`,
            'service_unavailable',
            'no_available_key',
          );
          break;
        }
        const started = performance.now();
        let resp: UpstreamResponse;
        try {
          resp = await p.adapter.send({
            op: target.op,
            body: upstreamBody,
            stream,
            key,
            signal,
            timeoutMs: p.timeoutMs,
            requestId,
          });
        } catch (err) {
          const e = err instanceof UpstreamError ? err : new UpstreamError('connection', 'upstream error');
          if (e.kind === 'aborted') return ABORTED;
          m.upstreamErrors.inc({ provider: p.name, kind: e.kind });
          last = toHttpError(e);
          backoff = true;
          continue;
        }
        m.latency.observe({ provider: p.name }, (performance.now() - started) / 1000);
        const s = resp.status;
        if (s >= 200 && s < 300) return { target, key, resp, upstreamBody };
        const detail = upstreamMessage(resp.body as Buffer);
        if (s === 429) {
          m.upstreamErrors.inc({ provider: p.name, kind: 'rate_limited' });
          if (key !== MOCK_KEY) gate?.coolDown(p.name, key.name, resp.retryAfterMs || 1000, 'rate_limited');
          avoid ??= new Set();
          avoid.add(key);
          last = new HttpError(
            429,
            `upstream rate limit: ${detail.message}`,
            'rate_limit_error',
            detail.code ?? 'upstream_rate_limited',
            resp.retryAfterMs ? { 'retry-after': String(Math.ceil(resp.retryAfterMs / 1000)) } : {},
          );
          backoff = p.keys.length <= 1;
          continue;
        }
        if (s === 401 || s === 403) {
          m.upstreamErrors.inc({ provider: p.name, kind: 'auth_failed' });
          if (key !== MOCK_KEY) gate?.coolDown(p.name, key.name, 60_000, 'auth_failed');
          avoid ??= new Set();
          avoid.add(key);
          // Never echo the upstream message: it may quote (part of) the provider key.
          last = new HttpError(
            502,
            `upstream ${p.name} rejected the provider key (status ${s})`,
            'upstream_error',
            'upstream_auth_failed',
          );
          // Switching to another key does not use up a retry.
          if (keySwitches++ < p.keys.length) attempt--;
          backoff = false;
          continue;
        }
        if (s >= 500 || s === 408) {
          m.upstreamErrors.inc({ provider: p.name, kind: `status_${s >= 500 ? '5xx' : '408'}` });
          last = new HttpError(
            502,
            `upstream ${p.name} returned ${s}: ${detail.message}`,
            'upstream_error',
            detail.code ?? 'upstream_error',
          );
          backoff = true;
          continue;
        }
        // Other 4xx: the request itself is at fault; pass it through, no retry, no fallback.
        m.upstreamErrors.inc({ provider: p.name, kind: 'status_4xx' });
        return new HttpError(s, detail.message, typeForStatus(s), detail.code);
      }
    }
    return last ?? new HttpError(503, 'no usable provider key', 'service_unavailable', 'no_available_key');
  }

  /** Weighted random among the keys serving the model, skipping `avoid` and keys the gate refuses. */
  private pickKey(p: ProviderEntry, model: string, avoid: Set<KeyEntry> | undefined): KeyEntry | undefined {
    if (p.keys.length === 0) return p.type === 'mock' && !avoid?.has(MOCK_KEY) ? MOCK_KEY : undefined;
    let cands = p.keysByModel.get(model);
    if (!cands) {
      cands = p.keys.filter((k) => k.models.size === 0 || k.models.has(model));
      if (p.keysByModel.size >= KEYS_CACHE_MAX) p.keysByModel.clear();
      p.keysByModel.set(model, cands);
    }
    const gate = this.opts.keyGate;
    if (cands.length === 1) {
      const k = cands[0]!;
      return !avoid?.has(k) && (!gate || gate.tryAcquire(p.name, k.name)) ? k : undefined;
    }
    const pool = avoid ? cands.filter((k) => !avoid.has(k)) : cands.slice();
    while (pool.length > 0) {
      let total = 0;
      for (const k of pool) total += k.weight;
      let r = Math.random() * total;
      let i = 0;
      for (; i < pool.length - 1; i++) {
        r -= pool[i]!.weight;
        if (r < 0) break;
      }
      const k = pool[i]!;
      if (!gate || gate.tryAcquire(p.name, k.name)) return k;
      pool.splice(i, 1);
    }
    return undefined;
  }

  /** Non-streaming answer: bytes through when formats match, else translated. */
  private sendJsonAnswer(
    res: ServerResponse,
    got: Attempted,
    clientOp: Operation,
    format: WireFormat,
  ): TokenCount | undefined {
    const buf = got.resp.body as Buffer;
    const upstreamFormat: WireFormat = got.target.op === 'messages' ? 'anthropic' : 'openai';
    let out: Buffer | string = buf;
    let usage: TokenCount | undefined;
    if (upstreamFormat === format) {
      usage = usageOfJson(buf);
    } else {
      let parsed: Obj;
      try {
        parsed = JSON.parse(buf.toString('utf8')) as Obj;
      } catch {
        throw new UpstreamError('bad_response', 'upstream sent invalid JSON');
      }
      const clientModel = `${got.target.provider.name}/${got.target.model}`;
      const translated =
        format === 'openai'
          ? messagesResponseToChat(parsed, clientModel)
          : chatResponseToMessages(parsed, clientModel);
      const u = translated.usage as Obj;
      usage = { prompt: 0, completion: 0 };
      foldUsage(u, usage);
      out = JSON.stringify(translated);
    }
    void clientOp;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': typeof out === 'string' ? Buffer.byteLength(out) : out.length,
    });
    res.end(out);
    return usage;
  }

  private async sendStream(
    res: ServerResponse,
    got: Attempted,
    _clientOp: Operation,
    format: WireFormat,
    ctx: RequestContext,
    clientBody: Obj,
  ): Promise<TokenCount | undefined> {
    const m = this.metrics;
    const provider = got.target.provider.name;
    const upstreamFormat: WireFormat = got.target.op === 'messages' ? 'anthropic' : 'openai';
    const source = got.resp.body as AsyncIterable<Buffer>;
    const usage: TokenCount = { prompt: 0, completion: 0 };
    let first = true;
    m.streamsOpen.inc();
    res.writeHead(200, SSE_HEADERS);
    const write = async (chunk: Buffer | string): Promise<void> => {
      if (chunk.length === 0) return;
      if (first) {
        first = false;
        m.ttfc.observe({ provider }, (performance.now() - ctx.startedAt) / 1000);
      }
      if (!res.write(chunk) && !res.destroyed)
        await new Promise<void>((r) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            r();
          };
          res.on('drain', done).on('close', done);
        });
    };
    try {
      if (upstreamFormat === format) {
        const wantUsage =
          format === 'openai' && (clientBody.stream_options as Obj | undefined)?.include_usage === true;
        const filter = new PassThroughFilter(format === 'openai' && !wantUsage, usage);
        for await (const chunk of source) {
          if (res.destroyed) break;
          const out = filter.push(chunk);
          if (out) await write(out);
        }
        const rest = filter.flush();
        if (rest && !res.destroyed) await write(rest);
      } else {
        const clientModel = `${provider}/${got.target.model}`;
        const parser = new SseParser();
        if (format === 'openai') {
          const wantUsage = (clientBody.stream_options as Obj | undefined)?.include_usage === true;
          const tr = new AnthropicToOpenAIStream(clientModel, wantUsage);
          for await (const chunk of source) {
            if (res.destroyed) break;
            let out = '';
            for (const ev of parser.push(chunk)) out += tr.event(ev.event, ev.data);
            await write(out);
          }
          if (!res.destroyed) await write(tr.end());
          Object.assign(usage, tr.usage);
        } else {
          const tr = new OpenAIToAnthropicStream(clientModel);
          for await (const chunk of source) {
            if (res.destroyed) break;
            let out = '';
            for (const ev of parser.push(chunk)) if (ev.data) out += tr.data(ev.data);
            await write(out);
          }
          if (!res.destroyed) await write(tr.end());
          Object.assign(usage, tr.usage);
        }
      }
      if (!res.destroyed) res.end();
    } catch (err) {
      if (err instanceof SyntaxError)
        throw new UpstreamError('bad_response', 'upstream sent an invalid stream event');
      throw err;
    } finally {
      m.streamsOpen.dec();
    }
    return usage.prompt || usage.completion ? usage : undefined;
  }
}

/**
 * Same-format streams: bytes go through unchanged, cut at event boundaries;
 * events carrying a usage object are read for token counts, and the
 * usage-only chunk is dropped when the client did not ask for it.
 */
class PassThroughFilter {
  private pending: Buffer | undefined;

  constructor(
    private readonly dropUsageOnly: boolean,
    private readonly usage: TokenCount,
  ) {}

  push(chunk: Buffer): Buffer | undefined {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const a = data.lastIndexOf('\n\n');
    const b = data.lastIndexOf('\r\n\r\n');
    const cut = Math.max(a === -1 ? -1 : a + 2, b === -1 ? -1 : b + 4);
    if (cut === -1) {
      // No event boundary yet; an upstream that never sends one is passed through rather than buffered without bound.
      if (data.length > MAX_PENDING_EVENT) {
        this.pending = undefined;
        return data;
      }
      this.pending = data;
      return undefined;
    }
    this.pending = cut < data.length ? data.subarray(cut) : undefined;
    const out = cut === data.length ? data : data.subarray(0, cut);
    return findUsageObject(out) === -1 ? out : this.inspect(out);
  }

  flush(): Buffer | undefined {
    const p = this.pending;
    this.pending = undefined;
    if (p && findUsageObject(p) !== -1) return this.inspect(p);
    return p;
  }

  private inspect(buf: Buffer): Buffer {
    let at = findUsageObject(buf);
    let drop: [number, number][] | undefined;
    while (at !== -1) {
      const u = parseObjectAt(buf, at);
      if (u) foldUsage(u, this.usage);
      if (this.dropUsageOnly) {
        const startNl = buf.lastIndexOf('\n\n', at);
        const start = startNl === -1 ? 0 : startNl + 2;
        const endNl = buf.indexOf('\n\n', at);
        const end = endNl === -1 ? buf.length : endNl + 2;
        const ev = buf.toString('utf8', start, end);
        const dataAt = ev.indexOf('data:');
        if (dataAt !== -1) {
          try {
            const e = JSON.parse(ev.slice(dataAt + 5)) as Obj;
            if (Array.isArray(e.choices) && e.choices.length === 0) {
              drop ??= [];
              drop.push([start, end]);
            }
          } catch {
            /* keep it */
          }
        }
      }
      at = findUsageObject(buf, at + 1);
    }
    if (!drop) return buf;
    const parts: Buffer[] = [];
    let pos = 0;
    for (const [s, e] of drop) {
      if (s > pos) parts.push(buf.subarray(pos, s));
      pos = e;
    }
    if (pos < buf.length) parts.push(buf.subarray(pos));
    return Buffer.concat(parts);
  }
}

function buildEntry(name: string, p: ProviderConfig, signature: string): ProviderEntry | undefined {
  const type = providerTypeOf(name, p);
  if (!type) return undefined;
  const runtime = { name, network: p.network_config, keys: p.keys, mock: p.mock_config };
  const adapter =
    type === 'openai'
      ? new OpenAIProvider(runtime)
      : type === 'anthropic'
        ? new AnthropicProvider(runtime)
        : legacyMock(runtime.mock);
  const n = p.network_config;
  return {
    name,
    type,
    adapter,
    signature,
    keys: p.keys.map((k, i) => ({
      name: k.name ?? String(i),
      value: k.value ?? '',
      models: new Set(k.models),
      weight: k.weight,
    })),
    timeoutMs: n.default_request_timeout_in_seconds * 1000,
    maxRetries: n.max_retries,
    backoffInitialMs: n.retry_backoff_initial_ms,
    backoffMaxMs: n.retry_backoff_max_ms,
    keysByModel: new Map(),
  };
}

/** The body sent upstream for one target: model replaced, translated when formats differ. */
function upstreamBodyFor(body: Obj, target: Target, clientOp: Operation, stream: boolean): Obj {
  if (target.op === clientOp) {
    const out: Obj = { ...body, model: target.model };
    // Usage comes with the stream only when asked for; the gateway always needs it.
    if (stream && (clientOp === 'chat' || clientOp === 'completions'))
      out.stream_options = { ...(body.stream_options as Obj | undefined), include_usage: true };
    return out;
  }
  return clientOp === 'chat'
    ? chatRequestToMessages(body, target.model)
    : messagesRequestToChat(body, target.model);
}

function validateBody(op: Operation, body: Obj): void {
  switch (op) {
    case 'chat':
    case 'messages':
      if (!Array.isArray(body.messages)) throw badField('messages', 'must be an array', body.messages);
      if (body.messages.length === 0) throw badField('messages', 'must not be empty', body.messages);
      for (let i = 0; i < body.messages.length; i++) {
        const msg = body.messages[i] as Obj;
        if (!msg || typeof msg !== 'object' || Array.isArray(msg))
          throw badField(`messages[${i}]`, 'must be an object', msg);
        if (typeof msg.role !== 'string') throw badField(`messages[${i}].role`, 'must be a string', msg.role);
      }
      if (op === 'messages' && typeof body.max_tokens !== 'number')
        throw badField('max_tokens', 'must be a number', body.max_tokens);
      break;
    case 'completions':
      if (typeof body.prompt !== 'string' && !Array.isArray(body.prompt))
        throw badField('prompt', 'must be a string or an array', body.prompt);
      break;
    case 'embeddings':
      if (typeof body.input !== 'string' && !Array.isArray(body.input))
        throw badField('input', 'must be a string or an array', body.input);
      break;
  }
  for (const f of ['max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n'] as const) {
    const v = body[f];
    if (v !== undefined && v !== null && typeof v !== 'number') throw badField(f, 'must be a number', v);
  }
  const so = body.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so)))
    throw badField('stream_options', 'must be an object', so);
}

function badField(field: string, what: string, got: unknown): HttpError {
  let shown: string;
  try {
    shown = got === undefined ? 'nothing' : JSON.stringify(got);
  } catch {
    shown = typeof got;
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return new HttpError(400, `${field}: ${what} (got ${shown})`, 'invalid_request_error', 'invalid_request');
}

function virtualKeyOf(req: IncomingMessage, format: WireFormat): string | undefined {
  const h = req.headers;
  const vk = h['x-deepintshield-vk'];
  if (typeof vk === 'string' && vk) return vk;
  const auth = h.authorization;
  if (auth && auth.length > 7 && auth.charCodeAt(6) === 32 && auth.slice(0, 6).toLowerCase() === 'bearer')
    return auth.slice(7).trim();
  if (format === 'anthropic') {
    const k = h['x-api-key'];
    if (typeof k === 'string' && k) return k;
  }
  return undefined;
}

function withHeaders(err: HttpError, headers: Record<string, string>): HttpError {
  return new HttpError(err.status, err.message, err.type, err.code, { ...headers, ...err.headers });
}

function toHttpError(e: UpstreamError): HttpError {
  if (e.kind === 'timeout') return new HttpError(504, e.message, 'timeout_error', 'upstream_timeout');
  if (e.kind === 'bad_response')
    return new HttpError(502, e.message, 'upstream_error', 'upstream_bad_response');
  return new HttpError(502, e.message, 'upstream_error', 'upstream_connection_error');
}

function typeForStatus(s: number): HttpError['type'] {
  if (s === 401) return 'authentication_error';
  if (s === 403) return 'permission_error';
  if (s === 404) return 'not_found_error';
  if (s === 413) return 'request_too_large';
  if (s === 429) return 'rate_limit_error';
  return 'invalid_request_error';
}

/** Message and code of an upstream error body (OpenAI or Anthropic shape), bounded. */
function upstreamMessage(buf: Buffer): { message: string; code: string | null } {
  try {
    const j = JSON.parse(buf.toString('utf8')) as Obj;
    const e = (j.error as Obj | undefined) ?? j;
    const message = typeof e.message === 'string' ? e.message : 'upstream error';
    const code = typeof e.code === 'string' ? e.code : typeof e.type === 'string' ? e.type : null;
    return { message: message.slice(0, 500), code };
  } catch {
    return { message: buf.toString('utf8', 0, Math.min(buf.length, 200)) || 'upstream error', code: null };
  }
}

function sleep(ms: number, signal: Cancel): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Transitional: the old adapter shape over the new mock engine (replaced by the provider registry). */
function legacyMock(cfg: ProviderConfig['mock_config']): ProviderAdapter {
  const engine = new MockEngine(cfg);
  return {
    type: 'mock',
    supports: () => true,
    send: (call) => engine.send(call),
    close: () => Promise.resolve(),
  };
}
