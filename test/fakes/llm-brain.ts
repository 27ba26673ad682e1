import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Shared by the provider contract fakes: a deterministic "model" (the same
 * question gets the same answer on every provider, so a test can compare
 * paths) and a small loopback HTTP server with a request log.
 */

export interface BrainInput {
  /** Text of the last user turn. */
  text: string;
  images: { mime: string; bytes: number }[];
  tools: { name: string; schema: unknown }[];
  /** 'auto' and 'required' call a tool when tools are given; a name forces that tool. */
  toolChoice: 'auto' | 'none' | 'required' | { name: string };
  /** Set when the last turn carries a tool result. */
  toolResult?: string;
  system?: string;
}

export type BrainOutput =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; id: string; name: string; args: Record<string, unknown> };

export function think(input: BrainInput): BrainOutput {
  if (input.toolResult !== undefined) return { kind: 'text', text: `tool said: ${input.toolResult}` };
  if (input.tools.length > 0 && input.toolChoice !== 'none') {
    const choice = input.toolChoice;
    const tool =
      typeof choice === 'object'
        ? (input.tools.find((t) => t.name === choice.name) ?? input.tools[0]!)
        : input.tools[0]!;
    return { kind: 'tool', id: `call_${tool.name}_1`, name: tool.name, args: argsFor(tool.schema) };
  }
  let text = `echo: ${input.text}`;
  if (input.images.length > 0)
    text += ` [images: ${input.images.map((i) => `${i.mime} ${i.bytes} bytes`).join(', ')}]`;
  return { kind: 'text', text };
}

/** Arguments valid for a JSON schema's required properties (all properties when none are required). */
export function argsFor(schema: unknown): Record<string, unknown> {
  const s = (schema ?? {}) as {
    properties?: Record<string, { type?: string; enum?: unknown[] }>;
    required?: string[];
  };
  const props = s.properties ?? {};
  const names = s.required && s.required.length > 0 ? s.required : Object.keys(props);
  const out: Record<string, unknown> = {};
  for (const n of names) {
    const p = props[n] ?? {};
    if (p.enum && p.enum.length > 0) out[n] = p.enum[0];
    else if (p.type === 'number' || p.type === 'integer') out[n] = 1;
    else if (p.type === 'boolean') out[n] = true;
    else if (p.type === 'array') out[n] = [];
    else if (p.type === 'object') out[n] = {};
    else out[n] = 'Paris';
  }
  return out;
}

/** Rough token counts the fakes report (deterministic; not a tokenizer). */
export function tokensOf(text: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(text) / 4));
}

/** Splits text into `n` pieces on code-point boundaries (a fake's stream deltas). */
export function pieces(text: string, n = 3): string[] {
  const cps = [...text];
  const size = Math.max(1, Math.ceil(cps.length / n));
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out.length > 0 ? out : [''];
}

export interface LoggedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface FakeServer {
  url: string;
  port: number;
  requests: LoggedRequest[];
  /**
   * How a streamed answer's bytes are written: each returned buffer is one
   * write, with a pause between, so a test can split a frame or a UTF-8
   * character across TCP reads. Default: as produced.
   */
  splitStream?: (bytes: Buffer) => Buffer[];
  /** Next answers forced to an error status (then normal again). */
  failNext: { status: number; count: number } | undefined;
  close(): Promise<void>;
}

export type FakeHandler = (req: LoggedRequest, res: ServerResponse, fake: FakeServer) => void | Promise<void>;

const MAX_BODY = 8 * 1024 * 1024;

export async function startFakeServer(handler: FakeHandler): Promise<FakeServer> {
  const fake: FakeServer = {
    url: '',
    port: 0,
    requests: [],
    failNext: undefined,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => {
      const logged: LoggedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(parts),
      };
      fake.requests.push(logged);
      if (fake.requests.length > 1000) fake.requests.shift();
      Promise.resolve(handler(logged, res, fake)).catch((e: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ fake_error: e.message }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.port = port;
  fake.url = `http://127.0.0.1:${port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

/** Writes a stream body honouring `fake.splitStream`, pausing between writes so they arrive as separate reads. */
export async function writeStream(
  res: ServerResponse,
  fake: FakeServer,
  frames: (Buffer | Uint8Array | string)[],
) {
  const bytes = frames.map((f) => (typeof f === 'string' ? Buffer.from(f) : Buffer.from(f)));
  const writes = fake.splitStream ? fake.splitStream(Buffer.concat(bytes)) : bytes;
  for (const w of writes) {
    if (res.destroyed) return;
    res.write(w);
    await new Promise((r) => setTimeout(r, 1));
  }
  res.end();
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Takes one forced failure, if any is pending. */
export function takeFailure(fake: FakeServer): number | undefined {
  const f = fake.failNext;
  if (!f || f.count <= 0) return undefined;
  f.count--;
  if (f.count === 0) fake.failNext = undefined;
  return f.status;
}

export function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes and mime type of a data: URL or base64 payload (for the brain's image note). */
export function imageInfo(mime: string, base64: string): { mime: string; bytes: number } {
  return { mime, bytes: Buffer.from(base64, 'base64').length };
}

/** A deterministic unit-length embedding of `text` with `dims` dimensions. */
export function embed(text: string, dims: number): number[] {
  const out: number[] = [];
  let h = 2166136261;
  for (const b of Buffer.from(text)) h = Math.imul(h ^ b, 16777619) >>> 0;
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 3266489909) >>> 0;
    out.push((h / 0xffffffff) * 2 - 1);
  }
  const norm = Math.hypot(...out) || 1;
  return out.map((v) => v / norm);
}
