import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AdminCliError, adminRequest, adminTarget, csv, printTable, runAdmin } from './admin-client.js';

interface Provider {
  name: string;
  type?: string;
  keys?: { name?: string; models?: string[] }[];
  network_config?: { base_url?: string };
  source?: string;
}

/** `deepintshield providers list|create|delete`: providers over the admin API. */
export function registerProviders(program: Command): void {
  const providers = program.command('providers').description('list, create and delete providers (admin API)');
  const common = (c: Command) =>
    c
      .option('--url <url>', 'node HTTP address (else $DEEPINTSHIELD_URL)', undefined)
      .option('--token <token>', 'admin token (else $DEEPINTSHIELD_ADMIN_TOKEN)');

  common(providers.command('list').description('every provider, key values masked'))
    .option('--json', 'print the API answer')
    .action((opts) =>
      runAdmin(async () => {
        const data = await adminRequest<{ providers: Provider[] }>(
          adminTarget(opts),
          'GET',
          '/api/providers',
        );
        if (opts.json) return void process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
        printTable(
          ['NAME', 'TYPE', 'KEYS', 'MODELS', 'BASE URL', 'SOURCE'],
          (data?.providers ?? []).map((p) => {
            const models = (p.keys ?? []).flatMap((k) => k.models ?? []);
            return [
              p.name,
              p.type ?? p.name,
              String(p.keys?.length ?? 0),
              models.length ? models.join(',') : 'all',
              p.network_config?.base_url ?? 'default',
              p.source ?? 'api',
            ];
          }),
        );
      }),
    );

  common(providers.command('create <name>').description('create a provider'))
    .option('--type <type>', 'the API it speaks (default: the name, when that is a type)')
    .option('--base-url <url>', 'network_config.base_url')
    .option(
      '--key <value>',
      'an API key (repeatable); "env.NAME" is read from the node\'s environment',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--models <list>', 'models the keys serve, comma-separated (default: all)')
    .option(
      '--from-file <path>',
      'the whole provider as JSON (shaped like a providers entry); flags override it',
    )
    .option('--json', 'print the API answer')
    .action((name: string, opts) =>
      runAdmin(async () => {
        let body: Record<string, unknown> = {};
        if (opts.fromFile) {
          try {
            body = JSON.parse(readFileSync(opts.fromFile, 'utf8'));
          } catch (err) {
            throw new AdminCliError(`cannot read ${opts.fromFile}: ${(err as Error).message}`, 2);
          }
        }
        body.name = name;
        if (opts.type) body.type = opts.type;
        if (opts.baseUrl)
          body.network_config = { ...(body.network_config as object | undefined), base_url: opts.baseUrl };
        const keys = opts.key as string[];
        if (keys.length)
          body.keys = keys.map((value, i) => ({ name: `key-${i + 1}`, value, models: csv(opts.models) }));
        const created = await adminRequest(adminTarget(opts), 'POST', '/api/providers', body);
        if (opts.json) return void process.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
        process.stdout.write(`created provider ${name}\n`);
      }),
    );

  common(providers.command('delete <name>').description('delete a provider')).action((name: string, opts) =>
    runAdmin(async () => {
      await adminRequest(adminTarget(opts), 'DELETE', `/api/providers/${encodeURIComponent(name)}`);
      process.stdout.write(`deleted provider ${name}\n`);
    }),
  );
}
