import { existsSync, readFileSync } from 'node:fs';
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { PROVIDER_TYPES } from '../providers/provider-types.js';
import { formatIssues, formatPath } from './issues.js';
import { type Config, configSchema, providerTypeOf } from './schema.js';
import { MASK } from './secrets.js';

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly source: string,
  ) {
    super(`invalid configuration (${source}):\n  ${problems.join('\n  ')}`);
  }
}

export interface LoadedConfig {
  config: Config;
  /** Where it came from: a path, or "built-in defaults". */
  source: string;
}

/** Precedence from the contract: --config, DEEPINTSHIELD_CONFIG, ./config.json, built-in defaults. */
export function resolveConfigPath(
  cliPath: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (cliPath) return cliPath;
  if (env.DEEPINTSHIELD_CONFIG) return env.DEEPINTSHIELD_CONFIG;
  if (existsSync('config.json')) return 'config.json';
  return undefined;
}

export function loadConfig(cliPath?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = resolveConfigPath(cliPath, env);
  if (!path) return { config: defaultConfig(env), source: 'built-in defaults' };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${path}: ${(err as Error).message}`], path);
  }
  return { config: parseConfigText(text, path, env), source: path };
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const errors: ParseError[] = [];
  const raw = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    throw new ConfigError(
      errors.map((e) => {
        const { line, column } = lineColumn(text, e.offset);
        return `(line ${line}, column ${column}): ${printParseErrorCode(e.error)}`;
      }),
      source,
    );
  }
  return validateConfig(raw, source, env);
}

export function validateConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const resolved = resolveEnvRefs(raw, [], env, problems);
  const result = configSchema.safeParse(resolved, { reportInput: true });
  if (!result.success) problems.push(...formatIssues(result.error.issues, resolved));
  else problems.push(...crossFieldProblems(result.data));
  if (problems.length > 0) throw new ConfigError(problems, source);
  return result.data!;
}

/**
 * Built-in defaults: one node, SQLite under ./data, HTTP on 8080. A `mock`
 * provider answers at once so the README's curl works on a fresh machine;
 * OPENAI_API_KEY / ANTHROPIC_API_KEY enable the real providers when set.
 */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const providers: Record<string, unknown> = { mock: { keys: [{ name: 'default', value: 'mock-key' }] } };
  if (env.OPENAI_API_KEY) providers.openai = { keys: [{ name: 'env', value: 'env.OPENAI_API_KEY' }] };
  if (env.ANTHROPIC_API_KEY)
    providers.anthropic = { keys: [{ name: 'env', value: 'env.ANTHROPIC_API_KEY' }] };
  return validateConfig({ providers }, 'built-in defaults', env);
}

function resolveEnvRefs(
  value: unknown,
  path: (string | number)[],
  env: NodeJS.ProcessEnv,
  problems: string[],
): unknown {
  if (typeof value === 'string') {
    if (!value.startsWith('env.')) return value;
    const name = value.slice(4);
    const v = env[name];
    if (v === undefined) {
      problems.push(`${formatPath(path)}: environment variable ${name} is not set (got "${value}")`);
      return value;
    }
    return v;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnvRefs(v, [...path, i], env, problems));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveEnvRefs(v, [...path, k], env, problems);
    return out;
  }
  return value;
}

/** Checks that need several fields at once or a decoded value. */
function crossFieldProblems(c: Config): string[] {
  const problems: string[] = [];
  for (const [name, p] of Object.entries(c.providers)) {
    if (!providerTypeOf(name, p))
      problems.push(
        `providers.${name}.type: is required for a provider not named after its type (one of ${PROVIDER_TYPES.join(', ')}) (got undefined)`,
      );
  }
  const g = c.cluster_config.gossip;
  const keys = [
    ...(g.encryption_key ? [['encryption_key', g.encryption_key] as const] : []),
    ...g.encryption_keys.map((k, i) => [`encryption_keys.${i}`, k] as const),
  ];
  for (const [field, key] of keys) {
    const len = Buffer.from(key, 'base64').length;
    if (![16, 24, 32].includes(len) || !/^[A-Za-z0-9+/]+=*$/.test(key))
      problems.push(
        `cluster_config.gossip.${field}: must be base64 of 16, 24 or 32 bytes (got ${len} bytes)`,
      );
  }
  const ids = new Set<string>();
  const values = new Set<string>();
  c.governance.virtual_keys.forEach((vk, i) => {
    if (ids.has(vk.id)) problems.push(`governance.virtual_keys.${i}.id: duplicate id (got "${vk.id}")`);
    if (values.has(vk.value))
      problems.push(`governance.virtual_keys.${i}.value: duplicate key value (got ${MASK})`);
    ids.add(vk.id);
    values.add(vk.value);
  });
  return problems;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}
