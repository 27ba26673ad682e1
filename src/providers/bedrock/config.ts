export type { BedrockKeyConfig } from '../../config/schema.js';

export function bedrockBaseUrl(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`;
}
