/**
 * Zod issues as the lines people read: `path: what is wrong (got X)`, secrets masked, unknown fields
 * with a "did you mean" hint. Shared by the config loader and the admin API.
 */
import type { z } from 'zod';
import { configSchema } from './schema.js';
import { isSecretPath, MASK, maskAt } from './secrets.js';

export function formatIssues(issues: z.core.$ZodIssue[], input: unknown): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      const parent = valueAt(input, path);
      const known = parent && typeof parent === 'object' ? KNOWN_FIELD_NAMES : undefined;
      for (const key of issue.keys) {
        const suggestion = known ? closest(key, known) : undefined;
        out.push(
          `${formatPath([...path, key])}: unknown field${suggestion ? ` (did you mean "${suggestion}"?)` : ''} (got ${describe(
            (parent as Record<string, unknown>)?.[key],
            [...path, key],
          )})`,
        );
      }
      continue;
    }
    if (issue.code === 'invalid_union' && 'errors' in issue && issue.errors.length > 0) {
      // discriminated unions: report the branch's own problems, not "invalid input"
      const nested = issue.errors.flat() as z.core.$ZodIssue[];
      if (nested.length > 0 && nested.every((n) => n.code !== 'invalid_union')) {
        out.push(
          ...formatIssues(
            nested.map((n) => ({ ...n, path: [...issue.path, ...n.path] })),
            input,
          ),
        );
        continue;
      }
    }
    const got = issue.code !== 'custom' && 'input' in issue ? issue.input : valueAt(input, path);
    out.push(`${formatPath(path)}: ${humanMessage(issue)} (got ${describe(got, path)})`);
  }
  return out;
}

function humanMessage(issue: z.core.$ZodIssue): string {
  const m = issue.message;
  if (issue.code === 'invalid_type') return `must be ${issue.expected}`;
  if (issue.code === 'invalid_value' && 'values' in issue)
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return m
    .replace(/^Invalid input: /, '')
    .replace(/^Too small: expected/, 'must be')
    .replace(/^Too big: expected/, 'must be');
}

/** The offending value as quoted in a message: never a secret, nor any secret nested inside it. */
function describe(value: unknown, path: (string | number)[]): string {
  if (value === undefined) return 'undefined';
  if (isSecretPath(path) || (typeof value === 'string' && looksSecret(path))) return MASK;
  const s = JSON.stringify(maskAt(value, path)) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** An unknown field whose name suggests a credential (a typo of `value`, `api-key`, `secretKey`...). */
function looksSecret(path: (string | number)[]): boolean {
  const last = path[path.length - 1];
  if (typeof last !== 'string') return false;
  const lower = last.toLowerCase();
  return /key|secret|token|passw|credential|auth/.test(lower) || closest(lower, ['value']) === 'value';
}

export function formatPath(path: (string | number)[]): string {
  return path.length === 0 ? '(root)' : path.join('.');
}

function valueAt(input: unknown, path: (string | number)[]): unknown {
  let cur = input;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(word, c);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Every field name the schema knows, for "did you mean" hints. */
const KNOWN_FIELD_NAMES: string[] = (() => {
  const names = new Set<string>();
  const walk = (schema: unknown, depth: number) => {
    if (depth > 12 || !schema || typeof schema !== 'object') return;
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    const shape = def.shape as Record<string, unknown> | undefined;
    if (shape)
      for (const [k, v] of Object.entries(shape)) {
        names.add(k);
        walk(v, depth + 1);
      }
    for (const key of ['innerType', 'in', 'out', 'element', 'valueType', 'schema'])
      if (def[key]) walk(def[key], depth + 1);
    for (const key of ['options', 'left', 'right'])
      if (Array.isArray(def[key])) for (const o of def[key] as unknown[]) walk(o, depth + 1);
  };
  walk(configSchema, 0);
  return [...names];
})();
