import { classifyByStatus } from '../http/errors.js';
import type { UpstreamFailure } from '../provider.js';

/**
 * Google's error bodies ({error:{code,message,status,details}}): an invalid
 * API key is a 400 with reason API_KEY_INVALID, which is the key's fault, not
 * the request's; RESOURCE_EXHAUSTED is the quota.
 */
export function classifyGoogleError(status: number, body: Buffer): UpstreamFailure {
  const f = classifyByStatus(status, body);
  const text = body.length > 64 * 1024 ? '' : body.toString('utf8');
  if (/API_KEY_INVALID|API key not valid|API_KEY_SERVICE_BLOCKED/.test(text)) return { ...f, kind: 'auth' };
  if (f.code === 'RESOURCE_EXHAUSTED') return { ...f, kind: 'rate_limited' };
  if (f.code === 'UNAVAILABLE') return { ...f, kind: 'overloaded' };
  if (status === 404 && /models\//.test(f.message)) return { ...f, kind: 'model_refused' };
  return f;
}
