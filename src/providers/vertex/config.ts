import { z } from 'zod';

export type { VertexKeyConfig } from '../../config/schema.js';

/** The fields of a service-account key file the JWT-bearer grant needs. */
export const serviceAccountSchema = z.object({
  type: z.literal('service_account'),
  client_email: z.string().min(3),
  private_key: z.string().includes('PRIVATE KEY'),
  private_key_id: z.string().optional(),
  token_uri: z.url({ protocol: /^https?$/ }).default('https://oauth2.googleapis.com/token'),
});
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

export function vertexBaseUrl(region: string): string {
  return region === 'global'
    ? 'https://aiplatform.googleapis.com'
    : `https://${region}-aiplatform.googleapis.com`;
}

export function parseServiceAccount(json: string): ServiceAccount {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('vertex_key_config.auth_credentials is not JSON (expected the service-account key file)');
  }
  const r = serviceAccountSchema.safeParse(raw);
  if (!r.success) {
    const fields = r.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new Error(`vertex_key_config.auth_credentials is not a service-account key (check: ${fields})`);
  }
  return r.data;
}
