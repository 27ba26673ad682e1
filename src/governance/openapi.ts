import { z } from 'zod';
import { configSchema, providerSchema, virtualKeySchema } from '../config/schema.js';
import type { Route } from '../server/router.js';
import { VERSION } from '../version.js';

/**
 * GET /api/openapi.json: the admin API as OpenAPI 3.1. Request and response
 * bodies are generated from the zod schemas the API validates with
 * (src/config/schema.ts), so the description cannot drift from the checks.
 */

const providerNameSchema = configSchema.shape.providers.unwrap().keyType;

/** What the request-log routes answer (../shared/spec/interface.md § Request log). */
const logEntrySchema = z.object({
  id: z.string(),
  time: z.string().describe('ISO 8601'),
  node: z.string(),
  request_id: z.string(),
  route: z.string(),
  virtual_key: z.string().nullable().describe('the virtual key id, never its value'),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  status: z.number().int(),
  latency_ms: z.number(),
  ttft_ms: z.number().nullable().describe('time to first token, streams only'),
  tokens: z.object({ prompt: z.number().int(), completion: z.number().int() }),
  cost: z.number(),
  attempts: z.number().int(),
  fallback_index: z.number().int().nullable(),
  error: z.string().nullable(),
});

const errorSchema = z.object({
  error: z.object({
    message: z
      .string()
      .describe('for 400: every field problem as "path.to.field: what is wrong (got X)", joined by "; "'),
    type: z.string(),
    param: z.string().nullable().optional(),
    code: z.string().nullable(),
  }),
});

const usageSchema = z.object({
  virtual_keys: z.array(
    z.object({
      id: z.string(),
      requests: z.number().optional(),
      request_limit: z.number().optional(),
      tokens: z.number().optional(),
      token_limit: z.number().optional(),
      spend_usd: z.number().optional(),
      budget_usd: z.number().optional(),
    }),
  ),
});

const source = z
  .enum(['file', 'api'])
  .optional()
  .describe('"file": declared in the config file and read-only through this API (409)');

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete out.$schema;
  return out;
}

export function buildOpenApi(): Record<string, unknown> {
  const providerIn = providerSchema.extend({ name: providerNameSchema });
  const providerOut = providerSchema.extend({ name: providerNameSchema, source });
  const vkOut = virtualKeySchema.extend({ source });
  const schemas = {
    VirtualKeyInput: jsonSchema(virtualKeySchema, 'input'),
    VirtualKey: jsonSchema(vkOut, 'output'),
    VirtualKeyList: jsonSchema(z.object({ virtual_keys: z.array(vkOut) }), 'output'),
    ProviderInput: jsonSchema(providerIn, 'input'),
    Provider: jsonSchema(providerOut, 'output'),
    ProviderList: jsonSchema(z.object({ providers: z.array(providerOut) }), 'output'),
    Usage: jsonSchema(usageSchema, 'output'),
    LogEntry: jsonSchema(logEntrySchema, 'output'),
    LogPage: jsonSchema(
      z.object({
        logs: z.array(logEntrySchema),
        next_cursor: z.string().nullable(),
        partial: z.boolean().optional().describe('true when a peer did not answer'),
      }),
      'output',
    ),
    Error: jsonSchema(errorSchema, 'output'),
  };
  const ref = (name: keyof typeof schemas) => ({ $ref: `#/components/schemas/${name}` });
  const json = (name: keyof typeof schemas, description: string) => ({
    description,
    content: { 'application/json': { schema: ref(name) } },
  });
  const errors = {
    '401': json('Error', 'admin token missing or wrong'),
    '403': json('Error', 'no admin token configured and the client is not loopback, or a cross-site write'),
  };
  const body = (name: keyof typeof schemas) => ({
    required: true,
    content: { 'application/json': { schema: ref(name) } },
  });
  const pathParam = (name: string, description: string) => ({
    name,
    in: 'path',
    required: true,
    description,
    schema: { type: 'string' },
  });
  const query = (name: string, description: string, type = 'string') => ({
    name,
    in: 'query',
    required: false,
    description,
    schema: { type },
  });
  const entity = (
    tag: string,
    item: 'VirtualKey' | 'Provider',
    input: 'VirtualKeyInput' | 'ProviderInput',
  ) => ({
    get: {
      tags: [tag],
      summary: `one ${tag}`,
      responses: { '200': json(item, 'found'), '404': json('Error', 'no such entity'), ...errors },
    },
    put: {
      tags: [tag],
      summary: `replace a ${tag} (every node applies it within 1 s)`,
      requestBody: body(input),
      responses: {
        '200': json(item, 'replaced'),
        '400': json('Error', 'field errors'),
        '404': json('Error', 'no such entity'),
        '409': json('Error', 'owned by the config file'),
        ...errors,
      },
    },
    delete: {
      tags: [tag],
      summary: `delete a ${tag}`,
      responses: {
        '204': { description: 'deleted' },
        '404': json('Error', 'no such entity'),
        '409': json('Error', 'owned by the config file'),
        ...errors,
      },
    },
  });
  const collection = (
    tag: string,
    list: 'VirtualKeyList' | 'ProviderList',
    item: 'VirtualKey' | 'Provider',
    input: 'VirtualKeyInput' | 'ProviderInput',
  ) => ({
    get: {
      tags: [tag],
      summary: `every ${tag}, secrets masked`,
      responses: { '200': json(list, 'the list'), ...errors },
    },
    post: {
      tags: [tag],
      summary: `create a ${tag} (every node applies it within 1 s)`,
      requestBody: body(input),
      responses: {
        '201': json(item, 'created, secrets masked'),
        '400': json('Error', 'field errors'),
        '409': json('Error', 'duplicate id or value'),
        ...errors,
      },
    },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'DeepIntShield admin API',
      version: VERSION,
      description:
        'Providers, virtual keys, usage and the request log of a DeepIntShield cluster. Any node answers for the whole cluster. Writes must be application/json and same-origin.',
    },
    servers: [{ url: '/' }],
    security: [{ adminToken: [] }],
    tags: [
      { name: 'virtual key' },
      { name: 'provider' },
      { name: 'usage' },
      { name: 'request log' },
      { name: 'meta' },
    ],
    paths: {
      '/api/governance/virtual-keys': collection(
        'virtual key',
        'VirtualKeyList',
        'VirtualKey',
        'VirtualKeyInput',
      ),
      '/api/governance/virtual-keys/{id}': {
        parameters: [pathParam('id', 'virtual key id')],
        ...entity('virtual key', 'VirtualKey', 'VirtualKeyInput'),
      },
      '/api/governance/usage': {
        get: {
          tags: ['usage'],
          summary: 'current-window usage of every virtual key (cluster-wide estimate)',
          responses: { '200': json('Usage', 'usage per key'), ...errors },
        },
      },
      '/api/providers': collection('provider', 'ProviderList', 'Provider', 'ProviderInput'),
      '/api/providers/{name}': {
        parameters: [pathParam('name', 'provider name')],
        ...entity('provider', 'Provider', 'ProviderInput'),
      },
      '/api/logs': {
        get: {
          tags: ['request log'],
          summary: 'request log of the whole cluster, newest first',
          parameters: [
            query('limit', 'entries per page', 'integer'),
            query('cursor', 'next_cursor of the previous page'),
            query('provider', 'provider name'),
            query('model', 'model name'),
            query('status', 'HTTP status', 'integer'),
            query('virtual_key', 'virtual key id'),
            query('since', 'ISO 8601 time, inclusive'),
            query('until', 'ISO 8601 time, exclusive'),
          ],
          responses: { '200': json('LogPage', 'one page'), '400': json('Error', 'bad query'), ...errors },
        },
      },
      '/api/logs/{id}': {
        parameters: [pathParam('id', 'log entry id')],
        get: {
          tags: ['request log'],
          summary: 'one entry, with bodies when body logging is on',
          responses: {
            '200': json('LogEntry', 'the entry'),
            '404': json('Error', 'no such entry'),
            ...errors,
          },
        },
      },
      '/api/openapi.json': {
        get: {
          tags: ['meta'],
          summary: 'this document',
          security: [],
          responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } },
        },
      },
    },
    components: {
      securitySchemes: {
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'server.admin_token; without one configured, only loopback clients are answered',
        },
      },
      schemas,
    },
  };
}

export function openApiRoutes(): Route[] {
  const payload = JSON.stringify(buildOpenApi());
  return [
    {
      method: 'GET',
      path: '/api/openapi.json',
      name: '/api/openapi.json',
      handler: (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'cache-control': 'no-cache',
        });
        res.end(payload);
      },
    },
  ];
}
