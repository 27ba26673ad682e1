#!/usr/bin/env node
import { Command } from 'commander';
import { runCheckConfig } from './cli/check-config.js';
import { runMembers } from './cli/members.js';
import { runStart } from './cli/start.js';
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
  .action((opts) => runStart(opts));

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

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
