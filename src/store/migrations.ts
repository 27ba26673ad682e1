/**
 * Versioned schema migrations, applied in order and recorded in
 * `schema_migrations`. Append new entries; never edit an applied one.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string[];
  postgres: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'entities and store-wide version sequence',
    sqlite: [
      `CREATE TABLE IF NOT EXISTS store_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
      `INSERT OR IGNORE INTO store_meta (k, v) VALUES ('version', '0')`,
      `CREATE TABLE IF NOT EXISTS entities (
         kind TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
         deleted INTEGER NOT NULL DEFAULT 0, data TEXT, updated_at INTEGER NOT NULL,
         PRIMARY KEY (kind, id))`,
      `CREATE INDEX IF NOT EXISTS entities_version ON entities (version)`,
    ],
    postgres: [
      `CREATE TABLE IF NOT EXISTS store_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
      `INSERT INTO store_meta (k, v) VALUES ('version', '0') ON CONFLICT (k) DO NOTHING`,
      `CREATE TABLE IF NOT EXISTS entities (
         kind TEXT NOT NULL, id TEXT NOT NULL, version BIGINT NOT NULL,
         deleted BOOLEAN NOT NULL DEFAULT FALSE, data TEXT, updated_at BIGINT NOT NULL,
         PRIMARY KEY (kind, id))`,
      `CREATE INDEX IF NOT EXISTS entities_version ON entities (version)`,
    ],
  },
  {
    version: 2,
    name: 'usage counters (G-counter slots per node and window)',
    sqlite: [
      `CREATE TABLE IF NOT EXISTS usage_counters (
         counter TEXT NOT NULL, window_start INTEGER NOT NULL, node TEXT NOT NULL,
         value REAL NOT NULL, updated_at INTEGER NOT NULL,
         PRIMARY KEY (counter, window_start, node))`,
      `CREATE INDEX IF NOT EXISTS usage_window ON usage_counters (window_start)`,
    ],
    postgres: [
      `CREATE TABLE IF NOT EXISTS usage_counters (
         counter TEXT NOT NULL, window_start BIGINT NOT NULL, node TEXT NOT NULL,
         value DOUBLE PRECISION NOT NULL, updated_at BIGINT NOT NULL,
         PRIMARY KEY (counter, window_start, node))`,
      `CREATE INDEX IF NOT EXISTS usage_window ON usage_counters (window_start)`,
    ],
  },
  {
    version: 3,
    name: 'entity origin (config file or admin API) and hybrid-logical-clock versions for replication',
    sqlite: [
      `ALTER TABLE entities ADD COLUMN hlc TEXT`,
      `ALTER TABLE entities ADD COLUMN origin TEXT NOT NULL DEFAULT 'api'`,
    ],
    postgres: [
      `ALTER TABLE entities ADD COLUMN IF NOT EXISTS hlc TEXT`,
      `ALTER TABLE entities ADD COLUMN IF NOT EXISTS origin TEXT NOT NULL DEFAULT 'api'`,
    ],
  },
];
