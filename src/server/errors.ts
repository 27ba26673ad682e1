import type { ServerResponse } from 'node:http';

/** OpenAI error shape: {"error":{"message","type","param","code"}}; `param` is always present (null when no field is at fault). */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'request_too_large'
  | 'api_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'service_unavailable';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = 'invalid_request_error',
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
    /** The request field at fault ("messages[0].content", "fallbacks"), or null. */
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** The JSON body of an error answer. */
export function errorBody(
  message: string,
  type: ErrorType,
  code: string | null,
  param: string | null = null,
): { error: { message: string; type: ErrorType; param: string | null; code: string | null } } {
  return { error: { message, type, param, code } };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  const payload = JSON.stringify(body);
  if (headers) for (const k in headers) res.setHeader(k, headers[k]!);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

/**
 * An inbound family's error body (Anthropic, Gemini): chosen per route when
 * routes are built, so the request path never looks it up. Unset = OpenAI shape.
 */
export type ErrorShape = (err: HttpError) => unknown;

export function sendError(res: ServerResponse, err: HttpError, shape?: ErrorShape): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(
    res,
    err.status,
    shape ? shape(err) : errorBody(err.message, err.type, err.code, err.param),
    err.headers,
  );
}
