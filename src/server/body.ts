import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

/** Reads a request body up to `maxBytes`; larger bodies answer 413 without buffering the rest. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', (err) => reject(new HttpError(400, `error reading request body: ${err.message}`)));
  });
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    `request body is larger than the limit of ${maxBytes} bytes`,
    'request_too_large',
    'body_too_large',
  );
}

/** Parses a JSON object body with a clear 400 on anything else. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0)
    throw new HttpError(
      400,
      'request body is empty; expected a JSON object',
      'invalid_request_error',
      'empty_body',
    );
  if (!isUtf8(body))
    throw new HttpError(400, 'request body is not valid UTF-8', 'invalid_request_error', 'invalid_encoding');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(
      400,
      `request body is not valid JSON: ${(err as Error).message}`,
      'invalid_request_error',
      'invalid_json',
    );
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new HttpError(400, 'request body must be a JSON object', 'invalid_request_error', 'invalid_json');
  return value as Record<string, unknown>;
}
