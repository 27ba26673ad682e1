import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerSchema, virtualKeySchema } from '../../src/config/schema.js';
import { adminRoutes } from '../../src/governance/admin-api.js';
import type { ConfigSync } from '../../src/governance/config-sync.js';
import { buildOpenApi } from '../../src/governance/openapi.js';
import { createLogger } from '../../src/observability/logger.js';
import { NodeProcess } from '../support/node-process.js';
import { freePort } from '../support/ports.js';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};
const doc = buildOpenApi() as Doc;
const METHODS = ['get', 'post', 'put', 'delete'];
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => m in item).map((m) => `${m.toUpperCase()} ${path}`),
);

describe('GET /api/openapi.json (generated from the zod schemas)', () => {
  it('is OpenAPI 3.1 and describes every admin route the API registers', () => {
    expect(doc.openapi).toBe('3.1.0');
    const routes = adminRoutes({
      sync: {} as ConfigSync,
      logger: createLogger({ level: 'silent', format: 'json' }),
    });
    for (const r of routes) {
      const path = r.path.replace(/:([a-z_]+)/g, '{$1}');
      expect(operations, `${r.method} ${r.path}`).toContain(`${r.method} ${path}`);
    }
    for (const op of ['GET /api/logs', 'GET /api/logs/{id}', 'GET /api/openapi.json'])
      expect(operations).toContain(op);
  });

  it('its schemas are valid JSON Schema 2020-12 and judge bodies as the API does', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(schema, name);
    const vk = ajv.getSchema('VirtualKeyInput')!;
    const provider = ajv.getSchema('ProviderInput')!;
    const vkBodies: unknown[] = [
      { id: 'team-a', value: 'sk-team-a-0123456789' },
      {
        id: 'team-a',
        value: 'sk-team-a-0123456789',
        allowed_models: ['openai/gpt-4o-mini'],
        rate_limit: { request_max_limit: 600 },
        budget: { max_limit: 25 },
      },
      { id: 'bad id!', value: 'sk-team-a-0123456789' },
      { id: 'team-a', value: 'short' },
      { id: 'team-a', value: 'sk-team-a-0123456789', typo: 1 },
      { id: 'team-a', value: 'sk-team-a-0123456789', budget: {} },
      { id: 'team-a', value: 'sk-team-a-0123456789', rate_limit: { request_max_limit: -5 } },
      { value: 'sk-team-a-0123456789' },
    ];
    for (const b of vkBodies) expect(vk(b), JSON.stringify(b)).toBe(virtualKeySchema.safeParse(b).success);
    const providerBodies: unknown[] = [
      { name: 'groq', type: 'openai', keys: [{ value: 'k' }] },
      { name: 'groq', type: 'nope' },
      { name: 'groq', network_config: { base_url: 'not a url' } },
      { name: 'groq', network_config: { max_retries: 99 } },
      { name: 'groq', keys: [{ value: 'k', weight: 0 }] },
      { name: 'groq', extra: true },
    ];
    for (const b of providerBodies) {
      const { name: _n, ...rest } = b as Record<string, unknown>;
      expect(provider(b), JSON.stringify(b)).toBe(providerSchema.safeParse(rest).success);
    }
    const types = (doc.components.schemas.ProviderInput as { properties: { type: { enum: string[] } } })
      .properties.type.enum;
    expect(types).toEqual([...(providerSchema.shape.type.unwrap().options as readonly string[])]);
  });

  it('docs/admin-api.md has a heading and an example for every operation', () => {
    const md = readFileSync(resolve(import.meta.dirname, '../../docs/admin-api.md'), 'utf8');
    for (const op of operations) {
      const heading = md.indexOf(`### \`${op}\``);
      expect(heading, op).toBeGreaterThan(0);
      const section = md.slice(heading, md.indexOf('\n### ', heading + 4) >>> 0 || undefined);
      expect(section, op).toMatch(/```sh\n[^`]*curl /);
    }
  });

  describe('served by a node', () => {
    let node: NodeProcess;
    beforeAll(async () => {
      node = new NodeProcess({
        config: {
          server: { host: '127.0.0.1', port: await freePort(), admin_token: 'admin-token-0123456789' },
        },
      }).start();
      await node.waitReady();
    });
    afterAll(() => node?.destroy());

    it('without the admin token, as JSON, equal to the generated document', async () => {
      const res = await fetch(`${node.url}/api/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual(JSON.parse(JSON.stringify(doc)));
    });
  });
});
