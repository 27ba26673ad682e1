import { InvalidArgumentError } from 'commander';
import type { Config } from '../config/schema.js';

export interface ServerFlags {
  port?: number;
  host?: string;
}

/** `--port` as commander parses it: an integer 0-65535, else a usage error. */
export function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d{1,5}$/.test(v) || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535');
  return n;
}

/** `start --port/--host` win over the config file's server.port/server.host. */
export function applyServerFlags(config: Config, flags: ServerFlags): void {
  if (flags.port !== undefined) config.server.port = flags.port;
  if (flags.host !== undefined && flags.host !== '') config.server.host = flags.host;
}
