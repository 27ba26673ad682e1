import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';

const REPO = resolve(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(REPO, p), 'utf8');

/** Every property name anywhere in the config schema. */
function schemaFieldNames(): Set<string> {
  const js = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const names = new Set<string>();
  const walk = (s: unknown): void => {
    if (!s || typeof s !== 'object') return;
    const o = s as Record<string, any>;
    if (o.properties)
      for (const [k, v] of Object.entries(o.properties)) {
        names.add(k);
        walk(v);
      }
    for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(o[k])) o[k].forEach(walk);
    walk(o.items);
    if (typeof o.additionalProperties === 'object') walk(o.additionalProperties);
  };
  walk(js);
  return names;
}

describe('docs', () => {
  it('configuration.md documents every field of the config schema', () => {
    const doc = read('docs/configuration.md');
    const names = schemaFieldNames();
    expect(names.size).toBeGreaterThan(50);
    const missing = [...names].filter((n) => !new RegExp(`[\`."]${n.replace(/\$/g, '\\$')}\\b`).test(doc));
    expect(missing).toEqual([]);
  });

  it('architecture, configuration and operations exist and link to each other and to the other docs', () => {
    for (const f of ['architecture', 'configuration', 'operations'])
      expect(existsSync(join(REPO, `docs/${f}.md`))).toBe(true);
    const arch = read('docs/architecture.md');
    const ops = read('docs/operations.md');
    for (const link of [
      'discovery.md',
      'design-limits.md',
      'benchmarks.md',
      'configuration.md',
      'operations.md',
    ])
      expect(arch).toContain(`(${link})`);
    for (const link of ['discovery.md', 'architecture.md', 'configuration.md'])
      expect(ops).toContain(`(${link}`);
    expect(arch).toMatch(/## Path of an inference request/);
    expect(arch).toMatch(/## Path of a gossip message/);
    for (const topic of [
      '## Kubernetes',
      '## Docker Compose',
      '## systemd',
      '## Scaling',
      '## Rolling update',
      '## Backup',
      '## Gossip encryption key rotation',
    ])
      expect(ops).toContain(topic);
  });
});
