import { z } from 'zod';
import { providerSchema, providerTypeOf, virtualKeySchema } from '../config/schema.js';
import type { EntityKind } from '../store/types.js';

export const providerName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'provider names are lowercase letters, digits, "_" and "-"');

/** A provider as the admin API takes it: a `providers` entry plus its name. */
export const providerBodySchema = providerSchema.extend({ name: providerName });

/**
 * The admin API's rules for one entity, for data that did not come through
 * the admin API (replicated from a peer): the parsed entity, or undefined.
 */
export function validateEntity(
  kind: EntityKind,
  id: string,
  data: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (kind === 'virtual_key') {
    const r = virtualKeySchema.safeParse(data);
    return r.success && r.data.id === id ? (r.data as unknown as Record<string, unknown>) : undefined;
  }
  if (!providerName.safeParse(id).success) return undefined;
  const r = providerSchema.safeParse(data);
  if (!r.success || !providerTypeOf(id, r.data)) return undefined;
  return r.data as unknown as Record<string, unknown>;
}
