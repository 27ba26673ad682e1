import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { KeyEntry, ProviderCall, UpstreamResponse } from '../providers/provider.js';
import { Cancel, UpstreamError } from '../providers/types.js';
import { parseJsonObject, readBody } from '../server/body.js';
import { type ErrorShape, HttpError, sendError, sendJson } from '../server/errors.js';
import type { RequestContext, Route } from '../server/router.js';
import { type AttemptEnv, type AttemptFailure, CLIENT_CLOSED, runAttempts } from './attempts.js';
import type { BodyScrubber } from './body-scrub.js';
import type { CanonicalRequest, CanonicalUsage } from './canonical.js';
import {
  type AdmissionRequest,
  type AttemptOutcome,
  type AttemptSpan,
  admitAfterWait,
  type GovernanceHook,
  type KeyRouter,
  type ProviderKeyGate,
  type RequestObserver,
  type RequestRecord,
  type RequestSpan,
  type RequestTracer,
} from './hooks.js';
import { anthropicMessagesInbound } from './inbound/anthropic-messages.js';
import { geminiErrorBody, geminiListBody } from './inbound/gemini.js';
import type { InboundAdapter, InboundInput } from './inbound/types.js';
import { depthExceeds } from './inbound/validate.js';
import { pickKey, WeightedKeyRouter } from './keys.js';
import { GatewayMetrics, OTHER } from './metrics.js';
import { ModelCatalog } from './models.js';
import { keysFor, type ProviderEntry, rebuildTable } from './provider-table.js';
import { respondJson } from './respond-json.js';
import { respondStream } from './respond-stream.js';
import { GENAI_MODEL_PATH, INFERENCE_ROUTES, type InferenceRoute, splitGenaiPath } from './routes.js';
import { secretScrubber } from './scrub.js';
import { buildTargets, type Target } from './targets.js';
import { estimateChatTokens } from './token-estimate.js';
import { chargeFor, DEFAULT_OUTPUT_ESTIMATE, estimatePromptTokens } from './usage-settle.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  registry: Registry;
  governance: GovernanceHook;
  keyGate?: ProviderKeyGate;
  /** Key choice (adaptive routing, circuit breakers); default: weighted random. */
  keyRouter?: KeyRouter;
  /** Receives one record per finished inference request (request log, access line). */
  observer?: RequestObserver;
  /** Spans per request and attempt; unset = no tracing cost at all. */
  tracer?: RequestTracer;
  /** Fetch upstream model lists at start and periodically (default true). */
  listUpstreamModels?: boolean;
}

/** Bodies nested deeper than this are refused (400) before anything else reads them. */
export const MAX_BODY_DEPTH = 64;

/**
 * The inference path, one pass: inbound adapter → targets (validated,
 * capped) → governance.admit (all targets, token estimate) → attempts (keys,
 * retries, fallbacks) → JSON or stream answer → settle (usage, record, trace).
 */
export class Gateway {
  private table = new Map<string, ProviderEntry>();
  private readonly metrics: GatewayMetrics;
  private readonly maxBody: number;
  /** observability.request_log.bodies: keep (scrubbed, capped) bodies on the record; off = no work at all. */
  private readonly logBodyBytes: number;
  private readonly router: KeyRouter;
  private readonly catalog: ModelCatalog;
  private scrubber: BodyScrubber;

  constructor(private readonly opts: GatewayOptions) {
    this.metrics = new GatewayMetrics(opts.registry);
    this.maxBody = opts.config.server.max_body_bytes;
    const log = opts.config.observability.request_log;
    this.logBodyBytes = log.enabled && log.bodies ? log.max_body_bytes : 0;
    this.router = opts.keyRouter ?? new WeightedKeyRouter();
    this.catalog = new ModelCatalog(opts.logger, opts.listUpstreamModels !== false);
    this.metrics.known = (p, m) => this.catalog.known(p, m);
    this.scrubber = secretScrubber(opts.config.providers);
    this.updateProviders(opts.config.providers);
  }

  routes(): Route[] {
    const routes: Route[] = [];
    const genai = new Map<string, InferenceRoute>();
    for (const r of INFERENCE_ROUTES) {
      if (r.genaiMethod) {
        genai.set(r.genaiMethod, r);
        continue;
      }
      routes.push({
        method: 'POST',
        path: r.path,
        handler: (req, res, ctx) => this.handle(req, res, ctx, r),
        ...shapeOf(r.inbound),
      });
    }
    const geminiShape = { errorBody: geminiErrorBody, errorScope: '/genai/' };
    const anthropicShape = { errorBody: anthropicErrorBody, errorScope: '/anthropic/' };
    // One entry for every Gemini method: the model may contain "/", so only a wildcard can hold it.
    routes.push({
      method: 'POST',
      path: GENAI_MODEL_PATH,
      name: '/genai/{version}/models/{model}',
      handler: async (req, res, ctx) => {
        const parts = splitGenaiPath(ctx.params['*'] ?? '');
        const r = parts && genai.get(parts.method);
        if (!parts || !r)
          throw new HttpError(
            404,
            `no Gemini method in ${ctx.path.slice(0, 256)} (want models/{provider}/{model}:{method}, method one of ${[...genai.keys()].join(', ')})`,
            'not_found_error',
            'route_not_found',
          );
        ctx.params = { version: ctx.params.version ?? '', provider: parts.provider, model: parts.model };
        return this.handle(req, res, ctx, r);
      },
      ...geminiShape,
    });
    const guard = (
      req: IncomingMessage,
      apiKeyHeader?: 'x-api-key' | 'x-goog-api-key',
    ): HttpError | undefined => {
      const gov = this.opts.governance;
      const who = virtualKeyOf(req, apiKeyHeader);
      if (gov.authenticate) return gov.authenticate(who);
      const a = gov.admit({ ...who, provider: '', model: '', route: '/v1/models' });
      a.settle(null);
      // A model listing is not an inference: only a missing/unknown key refuses it.
      return a.reject && a.reject.status === 401 ? a.reject : undefined;
    };
    const list =
      (body: () => string, apiKeyHeader?: 'x-api-key' | 'x-goog-api-key', shape?: ErrorShape) =>
      (req: IncomingMessage, res: ServerResponse) => {
        const err = guard(req, apiKeyHeader);
        if (err) return sendError(res, err, shape);
        const b = body();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
        res.end(b);
      };
    routes.push(
      { method: 'GET', path: '/v1/models', handler: list(() => this.catalog.listBody()) },
      {
        method: 'GET',
        path: '/anthropic/v1/models',
        handler: list(() => this.catalog.anthropicListBody(), 'x-api-key', anthropicErrorBody),
        ...anthropicShape,
      },
      {
        method: 'GET',
        path: '/genai/:version/models',
        name: '/genai/{version}/models',
        handler: list(() => geminiListBody(this.catalog.listBody()), 'x-goog-api-key', geminiErrorBody),
        ...geminiShape,
      },
      {
        method: 'GET',
        // The model may contain "/" ("openrouter/meta-llama/llama-3-8b"): the rest of the path is its name.
        path: '/v1/models/:provider/*',
        name: '/v1/models/{provider}/{model}',
        handler: (req, res, ctx) => {
          const err = guard(req);
          if (err) return sendError(res, err);
          const provider = ctx.params.provider ?? '';
          const model = ctx.params['*'] ?? '';
          const m = model ? this.catalog.get(provider, model) : undefined;
          if (!m)
            return sendError(
              res,
              new HttpError(
                404,
                `model "${`${provider}/${model}`.slice(0, 200)}" not found`,
                'not_found_error',
                'model_not_found',
                {},
                'model',
              ),
            );
          sendJson(res, 200, m);
        },
      },
    );
    return routes;
  }

  /** Builds the new provider table (pools included) aside, swaps it in, then closes what it replaced. */
  updateProviders(providers: Config['providers']): void {
    const { table, replaced } = rebuildTable(this.table, providers, this.opts.logger);
    this.table = table;
    this.scrubber = secretScrubber(providers);
    this.catalog.update(table);
    // In-flight requests hold their entry; a closing pool lets them finish.
    for (const e of replaced) void e.provider.close();
  }

  async close(): Promise<void> {
    this.catalog.close();
    const old = this.table;
    this.table = new Map();
    await Promise.all([...old.values()].map((e) => e.provider.close()));
  }

  /** count_tokens without an upstream counter: a deterministic estimate (see token-estimate.ts). */
  private answerEstimate(
    res: ServerResponse,
    inbound: InboundAdapter,
    input: InboundInput,
    target: Target,
    request: ProviderCall['request'],
  ): void {
    const body = request.kind === 'canonical' ? request.body : undefined;
    const chat = body?.op === 'count_tokens' ? body.chat : undefined;
    const inputTokens = chat ? estimateChatTokens(chat) : 0;
    const out = JSON.stringify(
      inbound.encodeResponse({ op: 'count_tokens', inputTokens, estimated: true }, target.ref, input),
    );
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(out)),
      'x-deepintshield-provider': target.entry.name,
      'x-deepintshield-model': headerValue(target.model),
      'x-deepintshield-token-count': 'estimate',
    });
    res.end(out);
  }

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    route: InferenceRoute,
  ): Promise<void> {
    const inbound = route.inbound;
    const raw = await readBody(req, this.maxBody);
    const body = parseJsonObject(raw);
    if (depthExceeds(body, MAX_BODY_DEPTH))
      throw new HttpError(
        400,
        `request body is nested deeper than ${MAX_BODY_DEPTH} levels`,
        'invalid_request_error',
        'invalid_request',
      );
    const q = req.url?.indexOf('?') ?? -1;
    const input: InboundInput = {
      body,
      params: ctx.params,
      query: new URLSearchParams(q === -1 ? '' : req.url!.slice(q + 1)),
      req,
    };
    const table = this.table;
    const facts = inbound.target(input);
    const targets = buildTargets(table, facts.model, facts.fallbacks, inbound.format, inbound.op);
    // Validate once, before governance and before any upstream call: a bad body is a 400, never a 502.
    const primary = targets[0]!;
    const bodies = new Map<Target, ProviderCall['request']>();
    const prepare = (t: Target): ProviderCall['request'] => {
      let r = bodies.get(t);
      if (r && (r.kind === 'native') !== t.passThrough) r = undefined;
      if (!r) {
        r = t.passThrough
          ? { kind: 'native', format: inbound.format, body: inbound.passThroughBody(input, t.model) }
          : { kind: 'canonical', body: inbound.decode(input, t.model) as CanonicalRequest };
        bodies.set(t, r);
      }
      return r;
    };
    for (const t of targets) prepare(t);
    const promptEstimate = estimatePromptTokens(body);
    const asked: AdmissionRequest = {
      ...virtualKeyOf(req, route.apiKeyHeader),
      provider: primary.entry.name,
      model: primary.model,
      route: route.path,
      estimatedTokens: promptEstimate + (facts.maxTokens ?? DEFAULT_OUTPUT_ESTIMATE),
      ...(targets.length > 1
        ? { fallbacks: targets.slice(1).map((t) => ({ provider: t.entry.name, model: t.model })) }
        : {}),
    };
    let admission = this.opts.governance.admit(asked);
    if (admission.wait) admission = await admitAfterWait(this.opts.governance, admission.wait, asked);
    const record: RequestRecord = {
      requestId: ctx.requestId,
      startedAt: Date.now() - (performance.now() - ctx.startedAt),
      route: route.path,
      virtualKeyId: admission.virtualKeyId,
      provider: primary.entry.name,
      model: primary.model,
      status: 0,
      latencyMs: 0,
      promptTokens: 0,
      completionTokens: 0,
      cost: 0,
      attempts: 0,
      fallbackIndex: null,
      stream: facts.stream,
    };
    if (this.logBodyBytes > 0) record.requestBody = this.bodyForLog(raw);
    const span = this.opts.tracer?.startRequest(route.path, route.operation, headerOf(req, 'traceparent'));
    if (admission.reject) {
      const err = admission.reject;
      this.count(primary, err.status);
      sendError(
        res,
        admission.headers && admission.headers !== err.headers ? withHeaders(err, admission.headers) : err,
        inbound.errorBody,
      );
      admission.settle(null);
      this.finish(ctx, record, span, err.status, err.message);
      return;
    }
    if (primary.estimate) {
      this.answerEstimate(res, inbound, input, primary, prepare(primary));
      admission.settle(null);
      this.count(primary, 200);
      this.finish(ctx, record, span, 200);
      return;
    }
    const ctrl = new Cancel();
    const onClose = () => {
      if (!res.writableFinished) ctrl.abort();
    };
    res.once('close', onClose);
    let settled = false;
    const settle = (
      target: Target,
      usage: { prompt: number; completion: number; partial: boolean } | undefined,
      key?: KeyEntry,
    ) => {
      if (settled) return;
      settled = true;
      if (!usage) return admission.settle(null);
      admission.settle({
        provider: target.entry.name,
        model: target.model,
        promptTokens: usage.prompt,
        completionTokens: usage.completion,
        ...(usage.partial ? { partial: true } : {}),
      });
      record.promptTokens = usage.prompt;
      record.completionTokens = usage.completion;
      record.cost =
        this.opts.governance.cost?.(target.entry.name, target.model, usage.prompt, usage.completion) ?? 0;
      const provider = this.providerLabel(target.entry.name);
      if (usage.prompt > 0) this.metrics.tokens.inc({ provider, kind: 'prompt' }, usage.prompt);
      if (usage.completion > 0) this.metrics.tokens.inc({ provider, kind: 'completion' }, usage.completion);
      const total = usage.prompt + usage.completion;
      if (key?.value && total > 0) this.opts.keyGate?.recordTokens(target.entry.name, key.name, total);
    };
    try {
      const spans = new Map<number, AttemptSpan>();
      let attemptNo = 0;
      const env = this.attemptEnv(ctrl, ctx, facts.stream, prepare, span, spans, () => attemptNo++);
      const got = await runAttempts(targets, env);
      record.attempts = got.attempts;
      if (!got.ok) {
        this.count(primary, got.aborted ? 499 : got.error.status);
        settle(primary, undefined);
        if (!got.aborted && !ctrl.aborted) sendError(res, got.error, inbound.errorBody);
        this.finish(ctx, record, span, got.aborted ? 499 : got.error.status, got.error.message);
        return;
      }
      const { target, key, resp } = got;
      if (got.targetIndex > 0)
        this.metrics.fallbacks.inc({ provider: this.providerLabel(target.entry.name) });
      record.provider = target.entry.name;
      record.model = target.model;
      record.fallbackIndex = got.targetIndex;
      const headers: Record<string, string> = {
        'x-deepintshield-provider': target.entry.name,
        'x-deepintshield-model': headerValue(target.model),
      };
      if (admission.headers) Object.assign(headers, admission.headers);
      // From the attempt's send, not from here: the upstream's answer time is what routing weighs.
      const sentAt = got.sentAt;
      const attemptSpan = spans.get(got.attempts - 1);
      if (Buffer.isBuffer(resp.body)) {
        // The upstream's answer (what the client got, before any translation to its format).
        if (this.logBodyBytes > 0) record.responseBody = this.bodyForLog(resp.body);
        let usage: CanonicalUsage | undefined;
        try {
          usage = respondJson(res, inbound, input, target, resp.body, headers);
        } catch (err) {
          const e =
            err instanceof HttpError
              ? err
              : toHttpError(
                  err instanceof UpstreamError
                    ? err
                    : new UpstreamError('bad_response', 'upstream sent an unreadable answer'),
                );
          this.outcome(target, key, 502, env.now() - sentAt, resp, attemptSpan, undefined, 'bad_response');
          throw e;
        }
        this.outcome(target, key, 200, env.now() - sentAt, resp, attemptSpan);
        this.count(target, 200);
        settle(target, usage ? chargeFor(usage, false, promptEstimate, 0) : undefined, key);
        this.finish(ctx, record, span, 200);
        return;
      }
      this.metrics.streamsOpen.inc();
      let result: Awaited<ReturnType<typeof respondStream>>;
      try {
        result = await respondStream(
          res,
          inbound,
          input,
          target,
          resp.body,
          headers,
          ctx.startedAt,
          () =>
            this.metrics.ttfc.observe(
              { provider: this.providerLabel(target.entry.name) },
              (performance.now() - ctx.startedAt) / 1000,
            ),
          this.logBodyBytes,
        );
      } finally {
        this.metrics.streamsOpen.dec();
      }
      if (result.error) result.error = this.scrubbed(result.error);
      const status = result.clientClosed ? 499 : result.error ? result.error.status : 200;
      record.ttftMs = result.ttftMs;
      if (result.body) record.responseBody = this.bodyForLog(result.body);
      this.outcome(
        target,
        key,
        result.error ? result.error.status : 200,
        env.now() - sentAt,
        resp,
        attemptSpan,
        result.ttftMs,
        result.clientClosed ? 'aborted' : result.error ? 'bad_response' : undefined,
      );
      this.count(target, status);
      settle(target, chargeFor(result.usage, result.partial, promptEstimate, result.outputChars), key);
      this.finish(ctx, record, span, status, result.error?.message);
    } catch (err) {
      settle(primary, undefined);
      const e =
        err instanceof HttpError
          ? this.scrubbed(err)
          : err instanceof UpstreamError
            ? toHttpError(err)
            : undefined;
      if (!e) throw err;
      this.count(primary, e.status);
      this.finish(ctx, record, span, e.status, e.message);
      if (!res.headersSent) sendError(res, e, inbound.errorBody);
      else res.destroy();
    } finally {
      res.off('close', onClose);
      // Whatever is still running upstream (a stream left unread after an error) is released now.
      ctrl.abort();
    }
  }

  private attemptEnv(
    signal: Cancel,
    ctx: RequestContext,
    stream: boolean,
    prepare: (t: Target) => ProviderCall['request'],
    span: RequestSpan | undefined,
    spans: Map<number, AttemptSpan>,
    nextAttempt: () => number,
  ): AttemptEnv {
    const gate = this.opts.keyGate;
    const router = this.router;
    const m = this.metrics;
    return {
      signal,
      pickKey: (t, avoid) => pickKey(t.entry.name, t.model, keysFor(t.entry, t.model), avoid, router, gate),
      targetOpen: router.targetOpen ? (t) => router.targetOpen!(t.entry.name, t.model) : undefined,
      send: (t, key, attemptIndex) => {
        const n = nextAttempt();
        if (attemptIndex > 0) m.retries.inc({ provider: this.providerLabel(t.entry.name) });
        const a = span?.attempt(t.entry.name, t.model, key.name, n);
        if (a) spans.set(n, a);
        const started = performance.now();
        const request = prepare(t);
        const call: ProviderCall = {
          op: opOf(request),
          request,
          stream,
          model: t.model,
          key,
          signal,
          timeoutMs: t.entry.timeoutMs,
          requestId: ctx.requestId,
          ...(a?.traceparent ? { traceparent: a.traceparent } : {}),
        };
        return t.entry.provider.send(call).then((r) => {
          m.latency.observe(
            { provider: this.providerLabel(t.entry.name) },
            (performance.now() - started) / 1000,
          );
          if (r.status === 404 && request.kind === 'native' && request.format === 'openai.responses') {
            // An OpenAI-compatible server without a Responses API of its own: translate to chat from now on.
            t.entry.noNativeResponses = true;
            t.passThrough = false;
            return t.entry.provider.send({ ...call, op: 'chat', request: prepare(t) });
          }
          return r;
        });
      },
      classify: (t, resp) => t.entry.provider.classifyError(resp.status, resp.body as Buffer, resp.headers),
      onFailure: (f) => this.onFailure(f, spans),
      errorFor: (f) => this.errorFor(f),
      sleep: (ms) => sleep(ms, signal),
      random: Math.random,
      now: () => performance.now(),
    };
  }

  private onFailure(f: AttemptFailure, spans: Map<number, AttemptSpan>): void {
    const name = f.target.entry.name;
    this.metrics.upstreamErrors.inc({ provider: this.providerLabel(name), kind: f.kind });
    const cd = f.policy.coolDown;
    const gate = this.opts.keyGate;
    if (cd && gate && f.key.value) {
      const ms = cd.reason === 'rate_limited' ? f.response?.retryAfterMs || cd.ms : cd.ms;
      if (cd.scope === 'key_model') gate.coolDown(name, f.key.name, ms, cd.reason, f.target.model);
      else gate.coolDown(name, f.key.name, ms, cd.reason);
    }
    const outcome: AttemptOutcome = {
      provider: name,
      keyName: f.key.name,
      model: f.target.model,
      status: f.status,
      latencyMs: f.latencyMs,
      ...(f.error ? { failure: f.error.kind === 'aborted' ? 'aborted' : f.error.kind } : {}),
      ...(f.response ? { quotaHeaders: f.response.headers } : {}),
    };
    this.router.record(outcome);
    const last = [...spans.keys()].pop();
    if (last !== undefined) {
      spans.get(last)!.end(outcome);
      spans.delete(last);
    }
  }

  /** Success (or a stream that broke after it began): routing feedback and the attempt span. */
  private outcome(
    target: Target,
    key: KeyEntry,
    status: number,
    latencyMs: number,
    resp: UpstreamResponse,
    span: AttemptSpan | undefined,
    ttftMs?: number,
    failure?: AttemptOutcome['failure'],
  ): void {
    const o: AttemptOutcome = {
      provider: target.entry.name,
      keyName: key.name,
      model: target.model,
      status,
      latencyMs,
      quotaHeaders: resp.headers,
      ...(ttftMs !== undefined ? { ttftMs } : {}),
      ...(failure ? { failure } : {}),
    };
    this.router.record(o);
    span?.end(o);
  }

  /** The client-facing error of a failed attempt; provider messages are scrubbed of every configured secret. */
  private errorFor(f: AttemptFailure): HttpError {
    const name = f.target.entry.name;
    if (f.error) return this.scrubbed(toHttpError(f.error));
    const d = f.failure!;
    const msg = this.scrubber.scrubText(d.message);
    const s = f.status;
    switch (d.kind) {
      case 'rate_limited': {
        const ra = f.response?.retryAfterMs;
        return new HttpError(
          429,
          `upstream rate limit: ${msg}`,
          'rate_limit_error',
          d.code ?? 'upstream_rate_limited',
          ra ? { 'retry-after': String(Math.ceil(ra / 1000)) } : {},
        );
      }
      case 'auth':
        // Never echo the upstream message: it may quote (part of) the provider key.
        return new HttpError(
          502,
          `upstream ${name} rejected the provider key (status ${s})`,
          'upstream_error',
          'upstream_auth_failed',
        );
      case 'model_refused':
        return new HttpError(
          s === 404 ? 404 : 403,
          `upstream ${name} refused model ${f.target.model.slice(0, 100)}: ${msg}`,
          s === 404 ? 'not_found_error' : 'permission_error',
          d.code ?? 'model_not_available',
          {},
          'model',
        );
      case 'overloaded':
      case 'server':
        return new HttpError(
          502,
          `upstream ${name} returned ${s}: ${msg}`,
          'upstream_error',
          d.code ?? 'upstream_error',
        );
      case 'request':
        return new HttpError(s, msg, typeForStatus(s), d.code, {}, d.param ?? null);
    }
  }

  private bodyForLog(b: Buffer): string {
    return this.scrubber.scrubText(b.toString('utf8', 0, Math.min(b.length, this.logBodyBytes)));
  }

  private scrubbed(e: HttpError): HttpError {
    const m = this.scrubber.scrubText(e.message);
    return m === e.message ? e : new HttpError(e.status, m, e.type, e.code, e.headers, e.param);
  }

  private finish(
    ctx: RequestContext,
    record: RequestRecord,
    span: RequestSpan | undefined,
    status: number,
    error?: string,
  ): void {
    record.status = status;
    record.latencyMs = performance.now() - ctx.startedAt;
    if (error) record.error = this.scrubber.scrubText(error).slice(0, 500);
    ctx.record = record;
    span?.end(record);
    this.opts.observer?.onRequestEnd(record);
  }

  /** A provider label only from configuration. */
  private providerLabel(name: string): string {
    return this.table.has(name) ? name : OTHER;
  }

  private count(t: Target, status: number): void {
    const provider = this.providerLabel(t.entry.name);
    this.metrics.requests.inc({
      provider,
      model: provider === OTHER ? OTHER : this.metrics.modelLabel(provider, t.model),
      status,
    });
  }
}

const anthropicErrorBody = anthropicMessagesInbound.errorBody!;

/** A route's error shape and the path prefix whose misses share it, from its inbound family. */
function shapeOf(inbound: InboundAdapter): Pick<Route, 'errorBody' | 'errorScope'> {
  if (!inbound.errorBody) return {};
  return {
    errorBody: inbound.errorBody,
    errorScope: inbound.format.startsWith('anthropic.') ? '/anthropic/' : '/genai/',
  };
}

function opOf(r: ProviderCall['request']): ProviderCall['op'] {
  if (r.kind === 'canonical') return r.body.op;
  switch (r.format) {
    case 'openai.completions':
      return 'completions';
    case 'openai.embeddings':
    case 'gemini.embed':
    case 'gemini.batch_embed':
      return 'embeddings';
    case 'anthropic.count_tokens':
    case 'gemini.count_tokens':
      return 'count_tokens';
    default:
      return 'chat';
  }
}

/** A model name as a header value: printable ASCII and bounded, else percent-encoded and cut. */
function headerValue(v: string): string {
  if (v.length <= 256 && /^[\x20-\x7e]*$/.test(v)) return v;
  return encodeURIComponent(v.slice(0, 256)).slice(0, 512);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The virtual key a request carries and where it came from (the contract treats the sources differently). */
export function virtualKeyOf(
  req: IncomingMessage,
  apiKeyHeader?: 'x-api-key' | 'x-goog-api-key',
): Pick<AdmissionRequest, 'virtualKey' | 'virtualKeySource'> {
  const h = req.headers;
  const vk = h['x-deepintshield-vk'];
  if (typeof vk === 'string' && vk) return { virtualKey: vk, virtualKeySource: 'x-deepintshield-vk' };
  const auth = h.authorization;
  if (auth && auth.length > 7 && auth.charCodeAt(6) === 32 && auth.slice(0, 6).toLowerCase() === 'bearer')
    return { virtualKey: auth.slice(7).trim(), virtualKeySource: 'authorization' };
  if (apiKeyHeader) {
    const k = h[apiKeyHeader];
    // x-goog-api-key plays the part x-api-key plays on the Anthropic route.
    if (typeof k === 'string' && k) return { virtualKey: k, virtualKeySource: 'x-api-key' };
  }
  return { virtualKey: undefined, virtualKeySource: undefined };
}

function withHeaders(err: HttpError, headers: Record<string, string>): HttpError {
  return new HttpError(
    err.status,
    err.message,
    err.type,
    err.code,
    { ...headers, ...err.headers },
    err.param,
  );
}

function toHttpError(e: UpstreamError): HttpError {
  if (e.kind === 'aborted') return CLIENT_CLOSED;
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
