import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText, validateConfig } from '../../src/config/load.js';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const dir = mkdtempSync(join(tmpdir(), 'dis-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config loader', () => {
  it('reports bad JSON with line and column', () => {
    const p = problemsOf(() => parseConfigText('{\n  "server": {\n    "port": 8080,,\n  }\n}', 'bad.json'));
    expect(p.join('\n')).toMatch(/line 3, column \d+/);
  });

  it('accepts comments and trailing commas', () => {
    const c = parseConfigText(
      '// top\n{ /* block */ "server": { "port": 9001, }, // tail\n "providers": { "mock": { "keys": [], }, }, }',
      'ok.json',
    );
    expect(c.server.port).toBe(9001);
    expect(c.providers.mock).toBeDefined();
  });

  it('resolves env references and reports a missing one', () => {
    const c = validateConfig({ providers: { openai: { keys: [{ value: 'env.MY_KEY' }] } } }, 't', {
      MY_KEY: 'sk-secret-from-env',
    });
    expect(c.providers.openai!.keys[0]!.value).toBe('sk-secret-from-env');
    const p = problemsOf(() =>
      validateConfig({ providers: { openai: { keys: [{ value: 'env.NOT_SET_ANYWHERE' }] } } }, 't', {}),
    );
    expect(p).toEqual([
      expect.stringMatching(
        /^providers\.openai\.keys\.0\.value: environment variable NOT_SET_ANYWHERE is not set/,
      ),
    ]);
  });

  it('names an unknown field with a "did you mean"', () => {
    const p = problemsOf(() => validateConfig({ server: { prot: 8080 } }, 't', {}));
    expect(p[0]).toMatch(/^server\.prot: unknown field \(did you mean "port"\?\)/);
  });

  it('takes precedence --config > DEEPINTSHIELD_CONFIG > ./config.json > defaults', () => {
    const write = (name: string, port: number) => {
      const f = join(dir, name);
      writeFileSync(f, JSON.stringify({ server: { port } }));
      return f;
    };
    const cli = write('cli.json', 1001);
    const env = write('env.json', 1002);
    const cwd = process.cwd();
    const work = mkdtempSync(join(dir, 'cwd-'));
    process.chdir(work);
    try {
      expect(loadConfig(undefined, {}).source).toBe('built-in defaults');
      writeFileSync(join(work, 'config.json'), JSON.stringify({ server: { port: 1003 } }));
      expect(loadConfig(undefined, {}).config.server.port).toBe(1003);
      expect(loadConfig(undefined, { DEEPINTSHIELD_CONFIG: env }).config.server.port).toBe(1002);
      expect(loadConfig(cli, { DEEPINTSHIELD_CONFIG: env }).config.server.port).toBe(1001);
    } finally {
      process.chdir(cwd);
    }
  });

  /** Each invalid config must produce a problem naming its field. */
  const invalid: [string, unknown, string | RegExp][] = [
    ['port type', { server: { port: '8080' } }, 'server.port'],
    ['port range', { server: { port: 70000 } }, 'server.port'],
    ['negative body limit', { server: { max_body_bytes: -1 } }, 'server.max_body_bytes'],
    ['log level enum', { logging: { level: 'loud' } }, /^logging\.level: must be one of/],
    ['log format enum', { logging: { format: 'xml' } }, 'logging.format'],
    ['provider name', { providers: { 'Bad Name': { type: 'openai' } } }, 'providers'],
    ['provider without type', { providers: { custom: { keys: [] } } }, 'providers.custom.type'],
    ['provider type enum', { providers: { x: { type: 'palm' } } }, 'providers.x.type'],
    ['key value type', { providers: { openai: { keys: [{ value: 42 }] } } }, 'providers.openai.keys.0.value'],
    [
      'key weight',
      { providers: { openai: { keys: [{ value: 'k', weight: 0 }] } } },
      'providers.openai.keys.0.weight',
    ],
    [
      'key models type',
      { providers: { openai: { keys: [{ value: 'k', models: 'gpt-4o' }] } } },
      'providers.openai.keys.0.models',
    ],
    [
      'base_url',
      { providers: { openai: { network_config: { base_url: 'not a url' } } } },
      'providers.openai.network_config.base_url',
    ],
    [
      'max_retries',
      { providers: { openai: { network_config: { max_retries: 99 } } } },
      'providers.openai.network_config.max_retries',
    ],
    [
      'timeout',
      { providers: { openai: { network_config: { default_request_timeout_in_seconds: 0 } } } },
      'providers.openai.network_config.default_request_timeout_in_seconds',
    ],
    [
      'unknown network field',
      { providers: { openai: { network_config: { retries: 1 } } } },
      /providers\.openai\.network_config\.retries: unknown field/,
    ],
    [
      'mock fail_rate',
      { providers: { mock: { mock_config: { fail_rate: 2 } } } },
      'providers.mock.mock_config.fail_rate',
    ],
    [
      'vk value short',
      { governance: { virtual_keys: [{ id: 'a', value: 'short' }] } },
      'governance.virtual_keys.0.value',
    ],
    [
      'vk id',
      { governance: { virtual_keys: [{ id: 'has space', value: 'long-enough-value' }] } },
      'governance.virtual_keys.0.id',
    ],
    [
      'duration',
      {
        governance: {
          virtual_keys: [
            { id: 'a', value: 'long-enough-value', rate_limit: { request_reset_duration: '5 minutes' } },
          ],
        },
      },
      'governance.virtual_keys.0.rate_limit.request_reset_duration',
    ],
    [
      'budget',
      { governance: { virtual_keys: [{ id: 'a', value: 'long-enough-value', budget: { max_limit: -5 } }] } },
      'governance.virtual_keys.0.budget.max_limit',
    ],
    [
      'duplicate vk id',
      {
        governance: {
          virtual_keys: [
            { id: 'a', value: 'long-enough-value-1' },
            { id: 'a', value: 'long-enough-value-2' },
          ],
        },
      },
      'governance.virtual_keys.1.id',
    ],
    [
      'gossip key',
      { cluster_config: { gossip: { encryption_key: 'c2hvcnQ=' } } },
      'cluster_config.gossip.encryption_key',
    ],
    ['store type', { config_store: { enabled: true, type: 'mongo', config: {} } }, 'config_store'],
    ['enforce type', { governance: { enforce_virtual_keys: 'yes' } }, 'governance.enforce_virtual_keys'],
  ];
  it.each(invalid)('rejects %s, naming the field', (_name, raw, field) => {
    const p = problemsOf(() => validateConfig(raw, 't', {}));
    const re = typeof field === 'string' ? new RegExp(`^${field.replace(/\./g, '\\.')}[.:]`) : field;
    expect(
      p.some((x) => re.test(x)),
      p.join('\n'),
    ).toBe(true);
    for (const x of p) expect(x).toMatch(/\(got .*\)$/s);
  });

  it('check-config exits 0 with secrets masked, 2 with every problem', () => {
    const good = join(dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({
        providers: { openai: { keys: [{ value: 'sk-very-secret-provider-key-123' }] } },
        governance: { virtual_keys: [{ id: 'a', value: 'vk-very-secret-value' }] },
      }),
    );
    const ok = spawnSync(process.execPath, [MAIN, 'check-config', '--config', good], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('config OK');
    expect(ok.stdout).not.toContain('sk-very-secret-provider-key-123');
    expect(ok.stdout).not.toContain('vk-very-secret-value');
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        server: { port: 'x' },
        logging: { level: 'loud' },
        providers: { openai: { keys: [{ value: 'env.MISSING_FOR_TEST' }] } },
      }),
    );
    const ko = spawnSync(process.execPath, [MAIN, 'check-config', '--config', bad], {
      encoding: 'utf8',
      env: { ...process.env, MISSING_FOR_TEST: '' },
    });
    expect(ko.status).toBe(2);
    expect(ko.stdout).toMatch(/^server\.port: .*\(got "x"\)$/m);
    expect(ko.stdout).toMatch(/^logging\.level: /m);
  });
});
