import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { formatIssues } from '../config/issues.js';
import { providerTypeOf, virtualKeySchema } from '../config/schema.js';
import { MASK, maskSecrets } from '../config/secrets.js';
import type { Logger } from '../observability/logger.js';
import { isLoopbackAddress } from '../server/addresses.js';
import { parseJsonObject, readBody } from '../server/body.js';
import { HttpError, sendError, sendJson } from '../server/errors.js';
import type { RequestContext, Route } from '../server/router.js';
import { StoreConflictError } from '../store/types.js';
import { type ConfigSync, FileOwnedError, StoreUnavailableError } from './config-sync.js';
import { providerBodySchema } from './entity-schemas.js';

export interface AdminApiOptions {
  sync: ConfigSync;
  /** Bearer token required on every admin request; without one only loopback clients are answered. */
  adminToken?: string;
  logger: Logger;
  maxBodyBytes?: number;
  /** Current-window usage of one virtual key, cluster-wide estimate (GET /api/governance/usage). */
  usage?: (id: string) => Record<string, { used: number; limit: number }> | undefined;
}

/** Admin API: virtual keys and providers, stored in the config store and applied cluster-wide. */
export function adminRoutes(o: AdminApiOptions): Route[] {
  const tokenDigest = o.adminToken ? sha256(o.adminToken) : undefined;
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;

  const guard =
    (fn: (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> => {
      try {
        authorize(req, tokenDigest);
        await fn(req, res, ctx);
      } catch (err) {
        sendError(res, toHttpError(err, o.logger));
      }
    };

  const body = async (req: IncomingMessage): Promise<Record<string, unknown>> =>
    parseJsonObject(await readBody(req, maxBody));

  const vkOut = (data: unknown) => maskSecrets(data);
  const providerOut = (name: string, data: unknown) =>
    maskSecrets({ name, ...(data as Record<string, unknown>) });

  const parseVk = (raw: Record<string, unknown>) => {
    const r = virtualKeySchema.safeParse(raw, { reportInput: true });
    if (!r.success) throw validationError(r.error.issues, raw);
    const dupe = o.sync.live().virtualKeys.find((k) => k.value === r.data.value && k.id !== r.data.id);
    if (dupe)
      throw new HttpError(
        409,
        `value: another virtual key already uses this value (got ${MASK})`,
        'invalid_request_error',
        'duplicate_value',
      );
    return r.data;
  };

  const parseProvider = (raw: Record<string, unknown>) => {
    const r = providerBodySchema.safeParse(raw, { reportInput: true });
    if (!r.success) throw validationError(r.error.issues, raw);
    const { name, ...rest } = r.data;
    if (!providerTypeOf(name, rest))
      throw new HttpError(
        400,
        `type: is required for a provider not named openai, anthropic or mock (got undefined)`,
        'invalid_request_error',
        'invalid_config',
      );
    return { name, provider: rest };
  };

  return [
    {
      method: 'GET',
      path: '/api/governance/usage',
      name: '/api/governance/usage',
      handler: guard(async (_req, res) => {
        const keys = o.sync.live().virtualKeys.map((vk) => {
          const u = o.usage?.(vk.id) ?? {};
          return {
            id: vk.id,
            requests: u.requests?.used,
            request_limit: u.requests?.limit,
            tokens: u.tokens?.used,
            token_limit: u.tokens?.limit,
            spend_usd: u.budget_usd?.used,
            budget_usd: u.budget_usd?.limit,
          };
        });
        sendJson(res, 200, { virtual_keys: keys });
      }),
    },
    {
      method: 'GET',
      path: '/api/governance/virtual-keys',
      name: '/api/governance/virtual-keys',
      handler: guard(async (_req, res) => {
        sendJson(res, 200, { virtual_keys: o.sync.live().virtualKeys.map(vkOut) });
      }),
    },
    {
      method: 'POST',
      path: '/api/governance/virtual-keys',
      name: '/api/governance/virtual-keys',
      handler: guard(async (req, res) => {
        const vk = parseVk(await body(req));
        const row = await o.sync.create('virtual_key', vk.id, vk as unknown as Record<string, unknown>);
        sendJson(res, 201, vkOut(row?.data ?? vk));
      }),
    },
    {
      method: 'GET',
      path: '/api/governance/virtual-keys/:id',
      name: '/api/governance/virtual-keys/:id',
      handler: guard(async (_req, res, ctx) => {
        const vk = o.sync.getVirtualKey(ctx.params.id!);
        if (!vk) throw notFound('virtual key', ctx.params.id!);
        sendJson(res, 200, vkOut(vk));
      }),
    },
    {
      method: 'PUT',
      path: '/api/governance/virtual-keys/:id',
      name: '/api/governance/virtual-keys/:id',
      handler: guard(async (req, res, ctx) => {
        const id = ctx.params.id!;
        const raw = await body(req);
        if (raw.id !== undefined && raw.id !== id)
          throw new HttpError(
            400,
            `id: must match the id in the path (got ${JSON.stringify(raw.id)})`,
            'invalid_request_error',
            'invalid_config',
          );
        const vk = parseVk({ ...raw, id });
        const row = await o.sync.update('virtual_key', id, vk as unknown as Record<string, unknown>);
        if (!row) throw notFound('virtual key', id);
        sendJson(res, 200, vkOut(row.data));
      }),
    },
    {
      method: 'DELETE',
      path: '/api/governance/virtual-keys/:id',
      name: '/api/governance/virtual-keys/:id',
      handler: guard(async (_req, res, ctx) => {
        const row = await o.sync.delete('virtual_key', ctx.params.id!);
        if (!row) throw notFound('virtual key', ctx.params.id!);
        res.writeHead(204).end();
      }),
    },
    {
      method: 'GET',
      path: '/api/providers',
      name: '/api/providers',
      handler: guard(async (_req, res) => {
        const live = o.sync.live().providers;
        sendJson(res, 200, { providers: Object.entries(live).map(([n, p]) => providerOut(n, p)) });
      }),
    },
    {
      method: 'POST',
      path: '/api/providers',
      name: '/api/providers',
      handler: guard(async (req, res) => {
        const { name, provider } = parseProvider(await body(req));
        const row = await o.sync.create('provider', name, provider as unknown as Record<string, unknown>);
        sendJson(res, 201, providerOut(name, row?.data ?? provider));
      }),
    },
    {
      method: 'GET',
      path: '/api/providers/:name',
      name: '/api/providers/:name',
      handler: guard(async (_req, res, ctx) => {
        const p = o.sync.getProvider(ctx.params.name!);
        if (!p) throw notFound('provider', ctx.params.name!);
        sendJson(res, 200, providerOut(ctx.params.name!, p));
      }),
    },
    {
      method: 'PUT',
      path: '/api/providers/:name',
      name: '/api/providers/:name',
      handler: guard(async (req, res, ctx) => {
        const name = ctx.params.name!;
        const raw = await body(req);
        if (raw.name !== undefined && raw.name !== name)
          throw new HttpError(
            400,
            `name: must match the name in the path (got ${JSON.stringify(raw.name)})`,
            'invalid_request_error',
            'invalid_config',
          );
        const { provider } = parseProvider({ ...raw, name });
        const row = await o.sync.update('provider', name, provider as unknown as Record<string, unknown>);
        if (!row) throw notFound('provider', name);
        sendJson(res, 200, providerOut(name, row.data));
      }),
    },
    {
      method: 'DELETE',
      path: '/api/providers/:name',
      name: '/api/providers/:name',
      handler: guard(async (_req, res, ctx) => {
        const row = await o.sync.delete('provider', ctx.params.name!);
        if (!row) throw notFound('provider', ctx.params.name!);
        res.writeHead(204).end();
      }),
    },
  ];
}

export function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The admin API's rule: the admin token when one is set, else loopback clients only. */
export function authorize(req: IncomingMessage, tokenDigest: Buffer | undefined): void {
  if (!tokenDigest) {
    if (isLoopbackAddress(req.socket.remoteAddress)) return;
    throw new HttpError(
      403,
      'the admin API only answers loopback clients when no server.admin_token is configured',
      'permission_error',
      'admin_loopback_only',
    );
  }
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  // Compare digests: constant time and independent of the token's length.
  if (!m || !timingSafeEqual(sha256(m[1]!), tokenDigest))
    throw new HttpError(
      401,
      'admin token required: send Authorization: Bearer <admin_token>',
      'authentication_error',
      'invalid_admin_token',
      {
        'www-authenticate': 'Bearer',
      },
    );
}

function notFound(what: string, id: string): HttpError {
  return new HttpError(404, `${what} "${id}" not found`, 'not_found_error', 'not_found');
}

function toHttpError(err: unknown, logger: Logger): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StoreConflictError)
    return new HttpError(
      409,
      `${err.kind === 'virtual_key' ? 'virtual key' : 'provider'} "${err.id}" already exists`,
      'invalid_request_error',
      'duplicate_id',
    );
  if (err instanceof FileOwnedError)
    return new HttpError(409, err.message, 'invalid_request_error', 'owned_by_config_file');
  if (err instanceof StoreUnavailableError)
    return new HttpError(503, err.message, 'service_unavailable', 'store_unavailable');
  logger.error({ err: (err as Error)?.message }, 'admin API error');
  return new HttpError(500, 'internal error', 'api_error', 'internal_error');
}

/** Zod issues in the same words as check-config: `path: what is wrong (got X)`, secrets masked. */
function validationError(issues: z.core.$ZodIssue[], input: unknown): HttpError {
  const lines = formatIssues(issues, input);
  const err = new HttpError(400, lines.join('; '), 'invalid_request_error', 'invalid_config');
  (err as HttpError & { errors?: string[] }).errors = lines;
  return err;
}
