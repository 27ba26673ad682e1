import { HttpError } from '../server/errors.js';
import type { CanonicalOp, WireFormat } from './canonical.js';
import type { ProviderEntry } from './provider-table.js';

/** At most this many fallbacks per request (the contract's cap). */
export const MAX_FALLBACKS = 5;

/** One (provider, model) the request may be served by, in order. */
export interface Target {
  entry: ProviderEntry;
  /** Bare upstream model name. */
  model: string;
  /** "provider/model" as the client wrote it. */
  ref: string;
  /** Byte pass-through (the provider speaks the inbound format) or the canonical model. */
  passThrough: boolean;
  /** count_tokens on a provider with no counting endpoint: the gateway estimates, no upstream call. */
  estimate?: boolean;
}

export function parseRef(ref: string, field: string): { provider: string; model: string } {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1)
    throw new HttpError(
      400,
      `${field}: must be of the form "provider/model"`,
      'invalid_request_error',
      'invalid_request',
      {},
      field,
    );
  return { provider: ref.slice(0, slash), model: ref.slice(slash + 1) };
}

function resolve(
  table: ReadonlyMap<string, ProviderEntry>,
  ref: string,
  format: WireFormat,
  op: CanonicalOp,
  field: string,
): Target {
  const { provider, model } = parseRef(ref, field);
  const entry = table.get(provider);
  if (!entry)
    throw new HttpError(
      400,
      `${field}: unknown provider "${provider.slice(0, 64)}"`,
      'invalid_request_error',
      'unknown_provider',
      {},
      field,
    );
  const p = entry.provider;
  const passThrough =
    p.nativeFormats.has(format) && !(format === 'openai.responses' && entry.noNativeResponses === true);
  if (!passThrough && !p.supports(op)) {
    if (op === 'count_tokens') return { entry, model, ref, passThrough: false, estimate: true };
    throw new HttpError(
      400,
      `${field}: provider "${provider}" (${p.type}) does not support ${op}`,
      'invalid_request_error',
      'unsupported_operation',
      {},
      field,
    );
  }
  return { entry, model, ref, passThrough };
}

/** Primary + fallbacks → targets, validated and capped, before any upstream call. */
export function buildTargets(
  table: ReadonlyMap<string, ProviderEntry>,
  primary: string,
  fallbacks: readonly string[],
  format: WireFormat,
  op: CanonicalOp,
): Target[] {
  if (fallbacks.length > MAX_FALLBACKS)
    throw new HttpError(
      400,
      `fallbacks: at most ${MAX_FALLBACKS} are allowed (got ${fallbacks.length})`,
      'invalid_request_error',
      'too_many_fallbacks',
      {},
      'fallbacks',
    );
  const targets = [resolve(table, primary, format, op, 'model')];
  for (let i = 0; i < fallbacks.length; i++)
    targets.push(resolve(table, fallbacks[i]!, format, op, `fallbacks[${i}]`));
  return targets;
}
