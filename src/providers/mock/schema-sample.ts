/** A value valid for a JSON schema (the common subset: types, enum, const, required, min/max, anyOf/oneOf/allOf, local $ref). */
type Schema = Record<string, unknown>;

const MAX_DEPTH = 12;

export function sampleFor(schema: unknown, root: unknown = schema, depth = 0): unknown {
  if (!schema || typeof schema !== 'object' || depth > MAX_DEPTH) return null;
  const s = schema as Schema;
  if (typeof s.$ref === 'string') return sampleFor(resolveRef(root, s.$ref), root, depth + 1);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const k of ['anyOf', 'oneOf'] as const)
    if (Array.isArray(s[k]) && (s[k] as unknown[]).length > 0) {
      // Prefer a non-null branch.
      const branches = s[k] as Schema[];
      return sampleFor(branches.find((b) => b?.type !== 'null') ?? branches[0], root, depth + 1);
    }
  if (Array.isArray(s.allOf))
    return Object.assign({}, ...(s.allOf as unknown[]).map((x) => sampleFor(x, root, depth + 1)));
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? s.type[0]) : s.type;
  switch (type ?? (s.properties ? 'object' : s.items ? 'array' : 'string')) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      for (const [k, v] of Object.entries(props)) out[k] = sampleFor(v, root, depth + 1);
      return out;
    }
    case 'array': {
      const n = Math.max(1, typeof s.minItems === 'number' ? s.minItems : 1);
      const max = typeof s.maxItems === 'number' ? s.maxItems : n;
      return Array.from({ length: Math.min(n, max, 10) }, () => sampleFor(s.items, root, depth + 1));
    }
    case 'integer':
    case 'number': {
      const min =
        typeof s.minimum === 'number'
          ? s.minimum
          : typeof s.exclusiveMinimum === 'number'
            ? s.exclusiveMinimum + 1
            : 1;
      const max = typeof s.maximum === 'number' ? s.maximum : Number.POSITIVE_INFINITY;
      const v = Math.min(Math.max(min, 1), max);
      return type === 'integer' ? Math.ceil(v) : v;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    default: {
      if (s.format === 'date-time') return '2026-01-01T00:00:00Z';
      if (s.format === 'date') return '2026-01-01';
      if (s.format === 'email') return 'mock@example.com';
      if (s.format === 'uri' || s.format === 'url') return 'https://example.com/';
      const minLength = typeof s.minLength === 'number' ? s.minLength : 0;
      const base = 'mock';
      return base.length >= minLength ? base : base.padEnd(minLength, 'x');
    }
  }
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return {};
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    if (!node || typeof node !== 'object') return {};
    node = (node as Schema)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node ?? {};
}
