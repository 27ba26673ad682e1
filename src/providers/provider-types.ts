import { PRESETS, type PresetType } from './presets.js';

/**
 * The provider types with code of their own (one folder each under
 * src/providers/). Pure data so that the config schema can derive its `type`
 * enum without importing provider code; src/providers/registry.ts maps each
 * to its implementation.
 */
export const NATIVE_PROVIDER_TYPES = [
  'openai',
  'azure',
  'anthropic',
  'gemini',
  'vertex',
  'bedrock',
  'cohere',
  'mock',
] as const;

export type NativeProviderType = (typeof NATIVE_PROVIDER_TYPES)[number];

/** Every value `providers.<name>.type` may take. */
export const PROVIDER_TYPES = [
  ...NATIVE_PROVIDER_TYPES,
  ...(Object.keys(PRESETS) as PresetType[]),
] as readonly [NativeProviderType | PresetType, ...(NativeProviderType | PresetType)[]];

export type ProviderType = NativeProviderType | PresetType;

export function isProviderType(s: string): s is ProviderType {
  return (PROVIDER_TYPES as readonly string[]).includes(s);
}

export function isPresetType(s: string): s is PresetType {
  return Object.hasOwn(PRESETS, s);
}
