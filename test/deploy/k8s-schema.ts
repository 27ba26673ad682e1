import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Validates one Kubernetes object against the API's OpenAPI schema, as
 * compiled into the npm `kubernetes-models` package (types, required fields,
 * enums, formats). Returns the problems, empty when valid.
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
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}
