import type { ConfigStoreConfig } from '../config/schema.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { ConfigStore } from './types.js';

export { PostgresStore } from './postgres.js';
export { SqliteStore } from './sqlite.js';
export * from './types.js';

/** The store named by `config_store`; undefined when it is disabled (config file only, nothing persisted). */
export function createStore(cfg: ConfigStoreConfig): ConfigStore | undefined {
  if (!cfg.enabled) return undefined;
  if (cfg.type === 'sqlite') return new SqliteStore(cfg.config.path);
  const c = cfg.config;
  return new PostgresStore({
    host: c.host,
    port: Number(c.port),
    user: c.user,
    password: c.password,
    database: c.db_name,
    ssl: c.ssl_mode,
  });
}
