/**
 * OpenAI-compatible providers as data: a preset is a default API root and a
 * few quirks, served by the `openai` provider code. Adding one is one entry.
 *
 * `baseUrl` is the API root as the provider's own SDK takes it, version path
 * included; `undefined` means the user must set `network_config.base_url`.
 */
export interface Preset {
  /** Default API root (e.g. "https://api.groq.com/openai/v1"). */
  baseUrl: string | undefined;
  /** Whether the server has its own /responses endpoint; without it Responses requests are translated to chat. */
  responses: boolean;
  /** Whether a key is required (local servers take none). */
  keyRequired: boolean;
  /** Whether /completions (legacy text) exists; without it completions are sent as a one-message chat. */
  completions: boolean;
  /** Whether /embeddings exists. */
  embeddings: boolean;
  /** Upstream lists models at GET {base}/models. */
  listsModels: boolean;
  /** Display name for docs and logs. */
  label: string;
}

const hosted = (label: string, baseUrl: string, extra: Partial<Preset> = {}): Preset => ({
  label,
  baseUrl,
  responses: false,
  keyRequired: true,
  completions: false,
  embeddings: false,
  listsModels: true,
  ...extra,
});

const local = (label: string, baseUrl: string | undefined, extra: Partial<Preset> = {}): Preset => ({
  label,
  baseUrl,
  responses: false,
  keyRequired: false,
  completions: true,
  embeddings: true,
  listsModels: true,
  ...extra,
});

export const PRESETS = {
  mistral: hosted('Mistral AI', 'https://api.mistral.ai/v1', { embeddings: true }),
  groq: hosted('Groq', 'https://api.groq.com/openai/v1', { responses: true }),
  deepseek: hosted('DeepSeek', 'https://api.deepseek.com/v1', { completions: true }),
  xai: hosted('xAI', 'https://api.x.ai/v1', { responses: true }),
  openrouter: hosted('OpenRouter', 'https://openrouter.ai/api/v1', { completions: true, responses: true }),
  together: hosted('Together AI', 'https://api.together.xyz/v1', { completions: true, embeddings: true }),
  fireworks: hosted('Fireworks AI', 'https://api.fireworks.ai/inference/v1', {
    completions: true,
    embeddings: true,
    responses: true,
  }),
  cerebras: hosted('Cerebras', 'https://api.cerebras.ai/v1', { completions: true }),
  perplexity: hosted('Perplexity', 'https://api.perplexity.ai', { listsModels: false }),
  ollama: local('Ollama', 'http://localhost:11434/v1'),
  vllm: local('vLLM', undefined),
  lmstudio: local('LM Studio', 'http://localhost:1234/v1'),
} as const satisfies Record<string, Preset>;

export type PresetType = keyof typeof PRESETS;

/** The `openai` type itself, as a preset: OpenAI's API. */
export const OPENAI_PRESET: Preset = {
  label: 'OpenAI',
  baseUrl: 'https://api.openai.com/v1',
  responses: true,
  keyRequired: true,
  completions: true,
  embeddings: true,
  listsModels: true,
};

/**
 * The API root for an OpenAI-compatible provider: `base_url` as given (the
 * provider SDK's notion, version path included), a bare origin getting `/v1`.
 * Never appends `/v1` to a path that is already there (Gemini's
 * `/v1beta/openai`, Groq's `/openai/v1`).
 */
export function openaiApiRoot(baseUrl: string | undefined, preset: Preset): string | undefined {
  const raw = baseUrl ?? preset.baseUrl;
  if (!raw) return undefined;
  const u = new URL(raw);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path === '' ? '/v1' : path;
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}
