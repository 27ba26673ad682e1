import type { UpstreamFailure } from '../provider.js';

type Obj = Record<string, unknown>;

const MODEL_HINT = /model|deployment/i;

/** Message, code and param of an error body in the common shapes ({error:{message,code,type,param}}, {message}), bounded. */
export function errorDetail(body: Buffer): { message: string; code: string | null; param: string | null } {
  const head = body.length > 64 * 1024 ? body.subarray(0, 64 * 1024) : body;
  try {
    const j = JSON.parse(head.toString('utf8')) as unknown;
    const root = Array.isArray(j) ? j[0] : j;
    const e = (root && typeof root === 'object' && ((root as Obj).error as Obj | undefined)) || (root as Obj);
    if (e && typeof e === 'object') {
      const message = typeof e.message === 'string' ? e.message : 'upstream error';
      const code =
        typeof e.code === 'string'
          ? e.code
          : typeof e.type === 'string'
            ? e.type
            : typeof e.status === 'string'
              ? e.status
              : null;
      const param = typeof e.param === 'string' ? e.param : null;
      return { message: message.slice(0, 500), code, param };
    }
  } catch {
    /* not JSON: an HTML or text page */
  }
  const text = head
    .toString('utf8', 0, Math.min(head.length, 200))
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { message: text || 'upstream error', code: null, param: null };
}

/**
 * The default meaning of an error status; providers refine it (e.g. a 404
 * for an unknown model is model-scoped; Anthropic's 529 is overload).
 */
export function classifyByStatus(status: number, body: Buffer): UpstreamFailure {
  const d = errorDetail(body);
  const base = { message: d.message, code: d.code, param: d.param };
  if (status === 429) return { kind: 'rate_limited', ...base };
  if (status === 401) return { kind: 'auth', ...base };
  if (status === 403) {
    // A key that works but may not use this model (model not enabled on the account) is model-scoped.
    return {
      kind: MODEL_HINT.test(d.message) || MODEL_HINT.test(d.code ?? '') ? 'model_refused' : 'auth',
      ...base,
    };
  }
  if (status === 404 && (MODEL_HINT.test(d.message) || MODEL_HINT.test(d.code ?? '')))
    return { kind: 'model_refused', ...base };
  if (status === 503 || status === 529) return { kind: 'overloaded', ...base };
  if (status >= 500 || status === 408) return { kind: 'server', ...base };
  return { kind: 'request', ...base };
}
