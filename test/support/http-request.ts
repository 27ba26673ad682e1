import type { IncomingMessage } from 'node:http';

/** Above the gateway's own request limit (10 MiB), so a test server never refuses what the gateway forwards. */
const MAX_BODY = 16 * 1024 * 1024;

/** A test server's request body, bounded: over `max` the request is destroyed and the promise rejects. */
export async function readRequestBody(req: IncomingMessage, max = MAX_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) {
      req.destroy();
      throw new Error(`request body over ${max} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The token of `Authorization: Bearer <token>`, else undefined. */
export function bearerOf(headers: IncomingMessage['headers']): string | undefined {
  const a = headers.authorization;
  return a?.startsWith('Bearer ') ? a.slice(7) : undefined;
}
