import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText, validateConfig } from '../../src/config/load.js';
import { MASK, maskProviderSecrets, maskSecrets } from '../../src/config/secrets.js';

const SECRET = 'sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** Every secret the contract lists is masked, wherever it is shown (interface.md § Providers). */
describe('secret masking', () => {
  const provider = {
    keys: [
      {
        name: 'k',
        value: SECRET,
        bedrock_key_config: { access_key: 'AKIAEXAMPLE', secret_key: SECRET, session_token: SECRET },
        vertex_key_config: { project_id: 'p', auth_credentials: `{"private_key":"${SECRET}"}` },
      },
    ],
    network_config: {
      base_url: `https://user:${SECRET}@api.example.com/v1?api-key=${SECRET}`,
      extra_headers: { 'x-api-key': SECRET, authorization: `Bearer ${SECRET}` },
    },
  };

  it('masks value, secret_key, session_token, auth_credentials, extra_headers values and base_url credentials', () => {
    const masked = maskProviderSecrets(provider);
    const text = JSON.stringify(masked);
    expect(text).not.toContain(SECRET.slice(0, 8));
    expect(text).not.toContain(SECRET.slice(4, 30));
    expect(masked.keys[0]!.value).toBe(`${MASK}6789`);
    expect(masked.keys[0]!.bedrock_key_config.access_key).toBe('AKIAEXAMPLE');
    expect(masked.network_config.base_url).toBe(`https://${MASK}:${MASK}@api.example.com/v1?api-key=${MASK}`);
    expect(masked.network_config.extra_headers['x-api-key']).toMatch(/^\*{8}/);
    // the same rule applies to a whole config file
    expect(JSON.stringify(maskSecrets({ providers: { openai: provider } }))).not.toContain(
      SECRET.slice(0, 8),
    );
  });

  it('leaves a URL without credentials and short non-secret fields alone', () => {
    const m = maskProviderSecrets({ network_config: { base_url: 'https://api.openai.com/v1' }, keys: [] });
    expect(m.network_config.base_url).toBe('https://api.openai.com/v1');
  });

  it('never quotes a resolved secret in a config error message', () => {
    const env = { OPENAI_KEY: SECRET, SHORT: 'abc' };
    const problems = problemsOf(() =>
      validateConfig(
        {
          providers: {
            openai: {
              keys: [{ value: 'env.SHORT', valeu: 'env.OPENAI_KEY', secret_key: 'env.OPENAI_KEY' }],
              network_config: {
                base_url: `not a url ${SECRET}`,
                extra_headers: { 'x-key': 5 },
                max_retries: 'many',
              },
            },
          },
          server: { admin_token: 12, port: 'x' },
        },
        'test',
        env,
      ),
    );
    expect(problems.length).toBeGreaterThan(3);
    const text = problems.join('\n');
    expect(text).not.toContain(SECRET.slice(0, 6));
    expect(text).toContain('secret_key');
    expect(text).toContain('valeu');
  });

  it('masks secrets nested inside a value quoted for a parent field', () => {
    const problems = problemsOf(() =>
      validateConfig({ providers: { openai: { keys: { value: SECRET } } } }, 'test', {}),
    );
    expect(problems.join('\n')).not.toContain(SECRET.slice(0, 6));
  });
});

/** Property: the config loader on arbitrary JSON/JSONC text only ever throws a ConfigError, never leaks. */
describe('config loader fuzzing', () => {
  const secretAt = fc.constantFrom(
    ['providers', 'openai', 'keys', 0, 'value'],
    ['providers', 'openai', 'network_config', 'extra_headers', 'authorization'],
    ['server', 'admin_token'],
    ['cluster_config', 'gossip', 'encryption_key'],
    ['providers', 'x', 'keys', 0, 'secret_key'],
  );
  const place = (obj: unknown, path: readonly (string | number)[], v: unknown): unknown => {
    if (path.length === 0) return v;
    const [head, ...rest] = path;
    const base = obj && typeof obj === 'object' && !Array.isArray(obj) ? { ...(obj as object) } : {};
    const child =
      typeof head === 'number'
        ? [place(undefined, rest, v)]
        : place((base as Record<string, unknown>)[head!], rest, v);
    return { ...base, [head!]: child };
  };

  it('only ConfigError escapes, for any JSON value or text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 200 }),
        ),
        (text) => {
          try {
            parseConfigText(text, 'fuzz', {});
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never echoes a secret placed at a secret path, whatever else is wrong', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9_-]{24,48}$/);
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('server', 'providers', 'cluster_config', 'governance', 'bogus'),
          fc.jsonValue({ maxDepth: 3 }),
        ),
        secretAt,
        secret,
        fc.boolean(),
        (base, path, s, viaEnv) => {
          const config = place(base, path, viaEnv ? 'env.THE_SECRET' : s);
          const text = JSON.stringify(config);
          let message = '';
          try {
            const c = parseConfigText(`// fuzz\n${text}`, 'fuzz', { THE_SECRET: s });
            message = JSON.stringify(maskSecrets(c));
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            message = (err as Error).message;
          }
          expect(message).not.toContain(s.slice(0, 12));
        },
      ),
      { numRuns: 500 },
    );
  });
});
