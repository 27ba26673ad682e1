import type { AzureKeyConfig } from './config.js';

export type AzureOperation = 'chat' | 'completions' | 'embeddings' | 'responses';

const SUFFIX: Record<AzureOperation, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  responses: '/responses',
};

/** Where one Azure call goes and which `model` the body must carry. */
export interface AzureTarget {
  origin: string;
  /** Path and query, ready for the wire. */
  path: string;
  deployment: string;
  /** v1 API: the deployment goes in the body's `model`; classic: the model field is dropped. */
  bodyModel: string | undefined;
}

export function deploymentFor(cfg: AzureKeyConfig, model: string): string {
  return cfg.deployments[model] ?? model;
}

export function azureTarget(cfg: AzureKeyConfig, model: string, op: AzureOperation): AzureTarget {
  const u = new URL(cfg.endpoint);
  const deployment = deploymentFor(cfg, model);
  if (cfg.api_version === 'v1') {
    return { origin: u.origin, path: `/openai/v1${SUFFIX[op]}`, deployment, bodyModel: deployment };
  }
  const base = `/openai/deployments/${encodeURIComponent(deployment)}`;
  return {
    origin: u.origin,
    path: `${base}${SUFFIX[op]}?api-version=${encodeURIComponent(cfg.api_version)}`,
    deployment,
    bodyModel: undefined,
  };
}

/** The model list of the key's resource: v1 `/openai/v1/models`, classic `/openai/models?api-version=`. */
export function azureModelsPath(cfg: AzureKeyConfig): string {
  return cfg.api_version === 'v1'
    ? '/openai/v1/models'
    : `/openai/models?api-version=${encodeURIComponent(cfg.api_version)}`;
}

export function azureAuthHeaders(apiKey: string): Record<string, string> {
  return { 'api-key': apiKey };
}
