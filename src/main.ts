#!/usr/bin/env node
import { Command } from 'commander';
import { runCheckConfig } from './cli/check-config.js';
import { registerKeys } from './cli/keys.js';
import { runMembers } from './cli/members.js';
import { registerProviders } from './cli/providers.js';
import { parsePort } from './cli/server-flags.js';
import { VERSION } from './version.js';

const program = new Command()
  .name('deepintshield')
  .description('Self-hosted, peer-to-peer clustered, OpenAI-compatible AI gateway')
  .version(VERSION);

program
  .command('start', { isDefault: true })
  .description('run a node')
  .option('-c, --config <path>', 'config file (else $DEEPINTSHIELD_CONFIG, ./config.json, built-in defaults)')
  .option('--log-format <format>', 'json (default) or pretty')
  .option('--log-level <level>', 'trace, debug, info, warn, error')
  .option('-p, --port <port>', 'HTTP port (overrides server.port)', parsePort)
  .option('--host <address>', 'HTTP bind address (overrides server.host)')
  // loaded on demand: the admin subcommands start in a fraction of the time without the node's modules
  .action(async (opts) => (await import('./cli/start.js')).runStart(opts));

program
  .command('check-config')
  .description('validate a config file and print the effective config with secrets masked')
  .option('-c, --config <path>', 'config file')
  .action((opts) => runCheckConfig(opts));

program
  .command('members')
  .description("print the cluster's members as a node sees them")
  .option('--url <url>', 'node HTTP address', 'http://127.0.0.1:8080')
  .option('--json', 'print the raw /cluster/status JSON')
  .action((opts) => runMembers(opts));

registerKeys(program);
registerProviders(program);

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
