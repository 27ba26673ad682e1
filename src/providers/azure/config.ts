import { z } from 'zod';

/** `azure_key_config` of a provider key (interface.md § Providers). Values are already env-resolved. */
export const azureKeyConfigSchema = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/ }),
  /** A dated version selects the classic deployments API; "v1" selects the v1 API. */
  api_version: z
    .string()
    .regex(/^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$/, 'must be "v1" or a dated version such as 2024-10-21')
    .default('2024-10-21'),
  /** Model name → deployment name; a model with no entry is its own deployment. */
  deployments: z.record(z.string(), z.string().regex(/^[A-Za-z0-9._-]{1,64}$/)).default({}),
});
export type AzureKeyConfig = z.infer<typeof azureKeyConfigSchema>;
