import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/** The parts of opentelemetry/proto/{collector/trace,trace,common,resource}/v1 a test needs to read spans. */
const PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const ExportRequest = root.lookupType('otlp.ExportTraceServiceRequest');

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  statusCode: number;
  resource: Record<string, string | number | boolean>;
  /** Which encoding carried it. */
  encoding: 'protobuf' | 'json';
}

type Any = { stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number } & {
  string_value?: string;
  bool_value?: boolean;
  int_value?: unknown;
  double_value?: number;
};

function anyValue(v: Any | undefined): string | number | boolean {
  if (!v) return '';
  const s = v.stringValue ?? v.string_value;
  if (s !== undefined) return s;
  const b = v.boolValue ?? v.bool_value;
  if (b !== undefined) return b;
  const i = v.intValue ?? v.int_value;
  if (i !== undefined && i !== null) return Number(typeof i === 'object' ? String(i) : i);
  return v.doubleValue ?? v.double_value ?? '';
}

function attrs(list: { key: string; value?: Any }[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

const hex = (b: unknown): string =>
  typeof b === 'string' ? b : b instanceof Uint8Array ? Buffer.from(b).toString('hex') : '';

/**
 * A small OTLP/HTTP traces receiver (POST /v1/traces) that decodes both
 * encodings: http/protobuf (with protobufjs) and http/json.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly requests: { contentType: string; headers: Record<string, string | string[] | undefined> }[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          const ct = String(req.headers['content-type'] ?? '');
          this.requests.push({ contentType: ct, headers: req.headers });
          if (req.url !== '/v1/traces') {
            res.writeHead(404).end();
            return;
          }
          if (ct.includes('protobuf')) {
            const msg = ExportRequest.toObject(ExportRequest.decode(body), {
              longs: String,
              bytes: Buffer,
            }) as {
              resource_spans?: unknown[];
            };
            this.collect(msg.resource_spans as never, 'protobuf');
            res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
          } else {
            const msg = JSON.parse(body.toString('utf8')) as { resourceSpans?: unknown[] };
            this.collect(msg.resourceSpans as never, 'json');
            res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          }
        } catch (err) {
          res.writeHead(400).end(String(err));
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private collect(
    rs:
      | {
          resource?: { attributes?: never };
          scope_spans?: { spans?: Record<string, unknown>[] }[];
          scopeSpans?: { spans?: Record<string, unknown>[] }[];
        }[]
      | undefined,
    encoding: 'protobuf' | 'json',
  ): void {
    for (const r of rs ?? []) {
      const resource = attrs(r.resource?.attributes);
      for (const ss of r.scope_spans ?? r.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          const status = s.status as { code?: number } | undefined;
          this.spans.push({
            traceId: hex(s.trace_id ?? s.traceId),
            spanId: hex(s.span_id ?? s.spanId),
            parentSpanId: hex(s.parent_span_id ?? s.parentSpanId),
            name: String(s.name),
            kind: Number(s.kind ?? 0),
            attributes: attrs(s.attributes as never),
            statusCode: Number(status?.code ?? 0),
            resource,
            encoding,
          });
        }
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
