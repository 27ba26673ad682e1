import { z } from 'zod';

/** `bedrock_key_config` of a provider key (interface.md § Providers). Values are already env-resolved. */
export const bedrockKeyConfigSchema = z.strictObject({
  access_key: z.string().min(1).optional(),
  secret_key: z.string().min(1).optional(),
  session_token: z.string().min(1).optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1')
    .default('us-east-1'),
  /** Model alias → model id, inference-profile id or ARN. */
  deployments: z.record(z.string(), z.string().min(1)).default({}),
});
export type BedrockKeyConfig = z.infer<typeof bedrockKeyConfigSchema>;

export function bedrockBaseUrl(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`;
}
