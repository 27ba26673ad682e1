import { createRequire } from 'node:module';
import * as k8s from '@kubernetes/client-node';

const require = createRequire(import.meta.url);

/**
 * Validates one Kubernetes object against the API's OpenAPI schema, as
 * compiled into the npm `kubernetes-models` package (types, required fields,
 * enums, formats), and checks every field name against the official client's
 * model of the type (what `kubectl apply --validate=strict` refuses: a
 * misspelt or misplaced field, which the schema check lets through).
 * Returns the problems, empty when valid.
 */
export function k8sSchemaProblems(obj: Record<string, unknown>): string[] {
  const apiVersion = String(obj.apiVersion ?? '');
  const kind = String(obj.kind ?? '');
  if (!apiVersion || !kind) return ['apiVersion and kind are required'];
  let Model: new (o: unknown) => { validate(): void };
  try {
    Model = require(`kubernetes-models/${apiVersion}/${kind}`)[kind];
  } catch {
    return [`unknown kind ${apiVersion}/${kind}`];
  }
  const problems = unknownFields(obj, modelTypeOf(apiVersion, kind));
  try {
    new Model(obj).validate();
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };
const models = k8s as unknown as Record<string, ModelClass | undefined>;

/** The client's model class name of a kind: apps/v1 Deployment → V1Deployment, policy/v1 … → V1PodDisruptionBudget. */
function modelTypeOf(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop()!;
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

/** Field paths in `value` that its type does not have, walking nested models, arrays and maps. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object') return [];
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      unknownFields(v, map[1]!, `${path}.${k}`),
    );
  }
  const model = models[type];
  if (!model?.getAttributeTypeMap || typeof value !== 'object' || Array.isArray(value)) return [];
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const t = attrs.get(k);
    const at = path ? `${path}.${k}` : k;
    return t === undefined ? [`unknown field ${at} (${type})`] : unknownFields(v, t, at);
  });
}
