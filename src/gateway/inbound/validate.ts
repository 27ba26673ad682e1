import { HttpError } from '../../server/errors.js';

/**
 * Field validation for inbound bodies: every failure is a 400 naming the
 * field in `param` (OpenAI's error schema), with a bounded echo of the value.
 */
export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function badField(param: string, what: string, got: unknown): HttpError {
  let shown: string;
  try {
    shown = got === undefined ? 'nothing' : (JSON.stringify(got) ?? typeof got);
  } catch {
    shown = typeof got;
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return new HttpError(
    400,
    `${param}: ${what} (got ${shown})`,
    'invalid_request_error',
    'invalid_request',
    {},
    param,
  );
}

export function optString(body: Obj, field: string, param = field): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badField(param, 'must be a string', v);
  return v;
}

export function optNumber(body: Obj, field: string, param = field): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badField(param, 'must be a number', v);
  return v;
}

export function optInt(body: Obj, field: string, min: number, param = field): number | undefined {
  const v = optNumber(body, field, param);
  if (v !== undefined && (!Number.isInteger(v) || v < min))
    throw badField(param, `must be an integer ≥ ${min}`, v);
  return v;
}

export function optBool(body: Obj, field: string, param = field): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badField(param, 'must be a boolean', v);
  return v;
}

export function optObject(body: Obj, field: string, param = field): Obj | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw badField(param, 'must be an object', v);
  return v;
}

export function reqArray(body: Obj, field: string, param = field): unknown[] {
  const v = body[field];
  if (!Array.isArray(v)) throw badField(param, 'must be an array', v);
  return v;
}

/** `stop`: a string or an array of strings. */
export function optStop(body: Obj, field: string): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  throw badField(field, 'must be a string or an array of strings', v);
}

/** The routing facts common to every JSON inbound format: model, stream, fallbacks. */
export function modelOf(body: Obj): string {
  const m = body.model;
  if (typeof m !== 'string' || m.length === 0)
    throw badField('model', 'must be a string of the form "provider/model"', m);
  return m;
}

export function streamOf(body: Obj): boolean {
  return optBool(body, 'stream') === true;
}

export function fallbacksOf(body: Obj): string[] {
  const fb = body.fallbacks;
  if (fb === undefined || fb === null) return [];
  if (!Array.isArray(fb)) throw badField('fallbacks', 'must be an array of "provider/model" strings', fb);
  for (let i = 0; i < fb.length; i++)
    if (typeof fb[i] !== 'string' || (fb[i] as string).length === 0)
      throw badField(`fallbacks[${i}]`, 'must be a string of the form "provider/model"', fb[i]);
  return fb as string[];
}

/** Largest nesting depth of a parsed JSON value, stopping as soon as `limit` is passed. */
export function depthExceeds(v: unknown, limit: number): boolean {
  // Iterative: a body nested 20,000 deep must not blow the stack here.
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d >= limit) return true;
    if (Array.isArray(x)) for (const y of x) stack.push([y, d + 1]);
    else for (const k in x as Obj) stack.push([(x as Obj)[k], d + 1]);
  }
  return false;
}
