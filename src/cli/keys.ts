import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { adminRequest, adminTarget, csv, printTable, runAdmin } from './admin-client.js';

interface VirtualKey {
  id: string;
  description?: string;
  disabled?: boolean;
  allowed_models?: string[];
  rate_limit?: Record<string, unknown>;
  budget?: { max_limit?: number; reset_duration?: unknown };
  source?: string;
}

const limit = (n: unknown, per: unknown) => (n === undefined ? '-' : `${n}/${per}`);

/** `deepintshield keys list|create|delete`: virtual keys over the admin API. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('list, create and delete virtual keys (admin API)');
  const common = (c: Command) =>
    c
      .option('--url <url>', 'node HTTP address (else $DEEPINTSHIELD_URL)', undefined)
      .option('--token <token>', 'admin token (else $DEEPINTSHIELD_ADMIN_TOKEN)');

  common(keys.command('list').description('every virtual key, values masked'))
    .option('--json', 'print the API answer')
    .action((opts) =>
      runAdmin(async () => {
        const data = await adminRequest<{ virtual_keys: VirtualKey[] }>(
          adminTarget(opts),
          'GET',
          '/api/governance/virtual-keys',
        );
        if (opts.json) return void process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
        printTable(
          ['ID', 'STATUS', 'ALLOWED MODELS', 'REQUESTS', 'TOKENS', 'BUDGET USD', 'SOURCE'],
          (data?.virtual_keys ?? []).map((k) => [
            k.id,
            k.disabled ? 'disabled' : 'active',
            k.allowed_models?.length ? k.allowed_models.join(',') : 'all',
            limit(k.rate_limit?.request_max_limit, k.rate_limit?.request_reset_duration),
            limit(k.rate_limit?.token_max_limit, k.rate_limit?.token_reset_duration),
            limit(k.budget?.max_limit, k.budget?.reset_duration),
            k.source ?? 'api',
          ]),
        );
      }),
    );

  common(keys.command('create <id>').description('create a virtual key; prints its value once'))
    .option('--value <value>', 'the key clients send (default: a random sk-dis-… value)')
    .option('--models <list>', 'allowed models, comma-separated provider/model (default: all)')
    .option('--description <text>', 'free text')
    .option('--requests <n>', 'request limit per --requests-per window', Number)
    .option('--requests-per <duration>', 'request window', '1m')
    .option('--tokens <n>', 'token limit per --tokens-per window', Number)
    .option('--tokens-per <duration>', 'token window', '1h')
    .option('--budget <usd>', 'budget in USD per --budget-per window', Number)
    .option('--budget-per <duration>', 'budget window', '1M')
    .option('--disabled', 'create it disabled')
    .option('--json', 'print the API answer')
    .action((id: string, opts) =>
      runAdmin(async () => {
        const value = opts.value ?? `sk-dis-${randomBytes(24).toString('hex')}`;
        const body: Record<string, unknown> = { id, value, allowed_models: csv(opts.models) };
        if (opts.description) body.description = opts.description;
        if (opts.disabled) body.disabled = true;
        const rate: Record<string, unknown> = {};
        if (opts.requests !== undefined) {
          rate.request_max_limit = opts.requests;
          rate.request_reset_duration = opts.requestsPer;
        }
        if (opts.tokens !== undefined) {
          rate.token_max_limit = opts.tokens;
          rate.token_reset_duration = opts.tokensPer;
        }
        if (Object.keys(rate).length) body.rate_limit = rate;
        if (opts.budget !== undefined)
          body.budget = { max_limit: opts.budget, reset_duration: opts.budgetPer };
        const created = await adminRequest(adminTarget(opts), 'POST', '/api/governance/virtual-keys', body);
        if (opts.json) return void process.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
        process.stdout.write(`created virtual key ${id}\n`);
        if (!opts.value) process.stdout.write(`value (shown once): ${value}\n`);
      }),
    );

  common(keys.command('delete <id>').description('delete a virtual key')).action((id: string, opts) =>
    runAdmin(async () => {
      await adminRequest(
        adminTarget(opts),
        'DELETE',
        `/api/governance/virtual-keys/${encodeURIComponent(id)}`,
      );
      process.stdout.write(`deleted virtual key ${id}\n`);
    }),
  );
}
