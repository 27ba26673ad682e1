import { z } from 'zod';
import { isProviderType, PROVIDER_TYPES, type ProviderType } from '../providers/provider-types.js';
import {
  DEFAULT_DRAIN_ACCEPT_SECONDS,
  DEFAULT_DRAIN_TIMEOUT_SECONDS,
  DEFAULT_GOSSIP_PORT,
  DEFAULT_HTTP_PORT,
  DEFAULT_SERVICE_NAME,
  DEFAULT_SQLITE_PATH,
} from './defaults.js';
import { parseDuration, parseFixedDuration } from './duration.js';

/**
 * The config file schema (../shared/spec/interface.md). Every object is strict:
 * an unknown field is an error, so a typo such as `dicovery` is reported
 * instead of silently ignored. Defaults live here and nowhere else.
 */

const duration = z.union([z.string(), z.number()]).refine(
  (v) => {
    try {
      parseDuration(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a duration (use "500ms", "10s", "1m", "1h", "1d", "1w", "1M", "1Y" or seconds)' },
);

const fixedDuration = z.union([z.string(), z.number()]).refine(
  (v) => {
    try {
      parseFixedDuration(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a fixed duration (use "500ms", "10s", "1m", "1h" or seconds)' },
);

const port = z.number().int().min(0).max(65535);
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, 'must be host:port');
const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'must be a CIDR such as 10.0.0.0/8 or fd00::/8');

/** Azure OpenAI: per-key resource endpoint, API version ("v1" = the v1 API) and model → deployment names. */
export const azureKeyConfigSchema = z.strictObject({
  endpoint: z.url(),
  api_version: z.string().min(1).default('2024-10-21'),
  /** Model name → deployment name; a model with no entry uses its own name. */
  deployments: z.record(z.string(), z.string().min(1)).default({}),
});

/** Vertex AI: project, region and the service-account JSON text (a secret). */
export const vertexKeyConfigSchema = z.strictObject({
  project_id: z.string().min(1),
  region: z.string().min(1).default('us-central1'),
  auth_credentials: z.string().min(1),
});

/** AWS Bedrock: SigV4 credentials (or none when the key's `value` is a Bedrock API key), region, model → ARN/profile. */
export const bedrockKeyConfigSchema = z.strictObject({
  access_key: z.string().min(1).optional(),
  secret_key: z.string().min(1).optional(),
  session_token: z.string().min(1).optional(),
  region: z.string().min(1).default('us-east-1'),
  deployments: z.record(z.string(), z.string().min(1)).default({}),
});

export const providerKeySchema = z
  .strictObject({
    name: z.string().min(1).optional(),
    /** The API key; optional when a `*_key_config` carries the credentials (or the server takes none). */
    value: z.string().optional(),
    models: z.array(z.string().min(1)).default([]),
    weight: z.number().positive().default(1),
    /** Optional per-key caps, enforced cluster-wide by governance. */
    rpm_limit: z.number().int().positive().optional(),
    tpm_limit: z.number().int().positive().optional(),
    azure_key_config: azureKeyConfigSchema.optional(),
    vertex_key_config: vertexKeyConfigSchema.optional(),
    bedrock_key_config: bedrockKeyConfigSchema.optional(),
  })
  .superRefine((k, ctx) => {
    const b = k.bedrock_key_config;
    if (b && (b.access_key === undefined) !== (b.secret_key === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['bedrock_key_config', b.access_key === undefined ? 'access_key' : 'secret_key'],
        message: 'access_key and secret_key go together',
      });
  });

export const networkConfigSchema = z.strictObject({
  base_url: z.url().optional(),
  default_request_timeout_in_seconds: z.number().positive().default(60),
  max_retries: z.number().int().min(0).max(10).default(2),
  retry_backoff_initial_ms: z.number().int().min(0).default(500),
  retry_backoff_max_ms: z.number().int().min(0).default(5000),
  /** Extra headers sent upstream with every request. */
  extra_headers: z.record(z.string(), z.string()).default({}),
  /** Upstream connections kept alive per origin. */
  max_connections: z.number().int().positive().default(256),
  /** How keys are chosen: configured weights only, fastest first, or weights adjusted by cluster-wide errors, latency and quota. */
  routing: z.enum(['weighted', 'least-latency', 'adaptive']).default('adaptive'),
  /** Largest upstream JSON or error body held in memory; larger answers are 502. */
  max_response_bytes: z
    .number()
    .int()
    .positive()
    .default(32 * 1024 * 1024),
  /** Largest single upstream stream event (SSE event or event-stream frame); larger is 502 / a stream error. */
  max_event_bytes: z
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
});

/** Behaviour of the built-in `mock` provider: deterministic answers for demos and load tests. */
export const mockConfigSchema = z.strictObject({
  latency_ms: z.number().min(0).default(0),
  chunks: z.number().int().min(1).max(1000).default(5),
  chunk_interval_ms: z.number().min(0).default(0),
  fail_rate: z.number().min(0).max(1).default(0),
  fail_status: z.number().int().min(400).max(599).default(500),
  /** Fraction of requests that never answer (exercise timeouts). */
  hang_rate: z.number().min(0).max(1).default(0),
});

/** Every provider type, from the provider registry's list (src/providers/provider-types.ts). */
export const providerTypes = PROVIDER_TYPES;
export type { ProviderType };

export const providerSchema = z.strictObject({
  type: z.enum(providerTypes).optional(),
  keys: z.array(providerKeySchema).default([]),
  network_config: networkConfigSchema.prefault({}),
  mock_config: mockConfigSchema.optional(),
});

export const rateLimitSchema = z.strictObject({
  request_max_limit: z.number().int().positive().optional(),
  request_reset_duration: duration.default('1m'),
  token_max_limit: z.number().int().positive().optional(),
  token_reset_duration: duration.default('1h'),
});

export const budgetSchema = z.strictObject({
  max_limit: z.number().positive(),
  reset_duration: duration.default('1M'),
});

export const virtualKeySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1-128 letters, digits, "_", "." or "-"'),
  value: z.string().min(8, 'must be at least 8 characters'),
  description: z.string().optional(),
  allowed_models: z.array(z.string().min(1)).default([]),
  rate_limit: rateLimitSchema.optional(),
  budget: budgetSchema.optional(),
  disabled: z.boolean().default(false),
});

export const priceSchema = z.strictObject({
  input_per_million: z.number().min(0),
  output_per_million: z.number().min(0),
});

export const pricingSchema = z.record(z.string(), priceSchema);

export const governanceSchema = z.strictObject({
  enforce_virtual_keys: z.boolean().default(false),
  virtual_keys: z.array(virtualKeySchema).default([]),
  /** USD per million tokens, keyed by "provider/model" or "model"; overrides the built-in table. */
  pricing: pricingSchema.default({}),
  /** Price of models missing from the table (else they cost $0 and budgets do not apply to them). */
  default_price: priceSchema.optional(),
  /** A budgeted key asking for a model with no price (and no default_price): charge nothing (warned) or refuse (403). */
  unpriced_models: z.enum(['charge_nothing', 'refuse']).default('charge_nothing'),
});

export const discoveryTypes = ['kubernetes', 'consul', 'etcd', 'dns', 'udp', 'mdns'] as const;
export type DiscoveryType = (typeof discoveryTypes)[number];

export const discoverySchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    type: z.enum(discoveryTypes).optional(),
    service_name: z.string().min(1).default(DEFAULT_SERVICE_NAME),
    bind_port: port.optional(),
    dial_timeout: fixedDuration.default('10s'),
    allowed_address_space: z.array(cidr).default([]),
    /** How often discovery runs again after start-up. */
    interval: fixedDuration.default('10s'),
    k8s_namespace: z.string().optional(),
    k8s_label_selector: z.string().optional(),
    consul_address: z.string().default('localhost:8500'),
    consul_token: z.string().optional(),
    consul_scheme: z.enum(['http', 'https']).default('http'),
    etcd_endpoints: z.array(z.url()).optional(),
    etcd_prefix: z.string().optional(),
    etcd_username: z.string().optional(),
    etcd_password: z.string().optional(),
    dns_names: z.array(z.string().min(1)).optional(),
    dns_servers: z.array(hostPort).optional(),
    udp_broadcast_port: port.optional(),
    udp_broadcast_address: z.string().optional(),
    mdns_service: z.string().default('_bifrost._tcp'),
    mdns_interface: z.string().optional(),
  })
  .superRefine((d, ctx) => {
    if (!d.enabled) return;
    const need = (field: keyof typeof d, why: string) => {
      const v = d[field];
      if (v === undefined || (Array.isArray(v) && v.length === 0))
        ctx.addIssue({ code: 'custom', path: [field], message: `is required ${why}` });
    };
    if (!d.type) need('type', 'when discovery is enabled');
    if (d.type === 'kubernetes') need('k8s_label_selector', 'for kubernetes discovery');
    if (d.type === 'etcd') need('etcd_endpoints', 'for etcd discovery');
    if (d.type === 'dns') need('dns_names', 'for dns discovery');
    if (d.type === 'udp') {
      need('udp_broadcast_port', 'for udp discovery');
      need('allowed_address_space', 'for udp discovery');
    }
  });

export const gossipTimingsSchema = z.strictObject({
  profile: z.enum(['lan', 'wan', 'local']).default('lan'),
  probe_interval: fixedDuration.optional(),
  probe_timeout: fixedDuration.optional(),
  indirect_checks: z.number().int().min(0).max(16).optional(),
  suspicion_mult: z.number().int().min(1).max(64).optional(),
  suspicion_max_timeout_mult: z.number().int().min(1).max(64).optional(),
  retransmit_mult: z.number().int().min(1).max(64).optional(),
  gossip_interval: fixedDuration.optional(),
  gossip_nodes: z.number().int().min(1).max(64).optional(),
  gossip_to_the_dead_time: fixedDuration.optional(),
  push_pull_interval: fixedDuration.optional(),
  tcp_timeout: fixedDuration.optional(),
  awareness_max_multiplier: z.number().int().min(1).max(64).optional(),
});

export const gossipSchema = z.strictObject({
  port: port.default(DEFAULT_GOSSIP_PORT),
  encryption_key: z.string().optional(),
  /** Further keys accepted on receive, for rotation without downtime. The primary encrypts. */
  encryption_keys: z.array(z.string()).default([]),
  /** memberlist >= 0.3 packet label; leave empty to talk to serf 0.9.x. */
  label: z.string().max(255).default(''),
  /** Serf's delegate protocol (2,5,5) by default so that `serf members` lists our nodes. */
  delegate_protocol: z
    .strictObject({
      min: z.number().int().min(0).max(255),
      max: z.number().int().min(0).max(255),
      version: z.number().int().min(0).max(255),
    })
    .default({ min: 2, max: 5, version: 5 }),
  timings: gossipTimingsSchema.prefault({}),
  config: z
    .strictObject({
      timeout_seconds: z.number().positive().default(10),
      success_threshold: z.number().int().min(1).default(3),
      failure_threshold: z.number().int().min(1).default(3),
      /** How often each peer's /ready is checked. */
      interval_seconds: z.number().positive().default(2),
    })
    .prefault({}),
});

export const clusterSchema = z.strictObject({
  enabled: z.boolean().default(false),
  node_name: z.string().min(1).max(128).optional(),
  bind_address: z.string().default('0.0.0.0'),
  advertise_address: z.string().optional(),
  peers: z.array(hostPort).default([]),
  discovery: discoverySchema.prefault({}),
  gossip: gossipSchema.prefault({}),
  tags: z.record(z.string(), z.string()).default({}),
});

export const sqliteStoreSchema = z.strictObject({
  enabled: z.boolean().default(true),
  type: z.literal('sqlite'),
  config: z
    .strictObject({
      path: z.string().min(1).default(DEFAULT_SQLITE_PATH),
      /** In a cluster each node's SQLite is a replica; deletions are kept this long for absent nodes. */
      tombstone_retention: fixedDuration.default('7d'),
    })
    .prefault({}),
});

export const postgresStoreSchema = z.strictObject({
  enabled: z.boolean().default(true),
  type: z.literal('postgres'),
  config: z.strictObject({
    host: z.string().min(1),
    port: z.union([z.string().regex(/^\d+$/), port]).default('5432'),
    user: z.string().min(1),
    password: z.string().default(''),
    db_name: z.string().min(1),
    ssl_mode: z.enum(['disable', 'require', 'verify-full']).default('disable'),
  }),
});

export const configStoreSchema = z.discriminatedUnion('type', [sqliteStoreSchema, postgresStoreSchema]);

/** Overload protection: /ready turns 503 past these (load balancers move traffic), and excess inference requests are shed early. */
export const overloadSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * /ready answers 503 while the event-loop lag (mean of the last 500 ms) is above this. High enough
   * that CPU contention on a shared host does not take a node out (peers health-check /ready too).
   */
  ready_max_event_loop_lag_ms: z.number().positive().default(500),
  /** /ready answers 503 while more requests than this are in flight (0 = no limit). */
  ready_max_in_flight: z.number().int().min(0).default(0),
  /** Above this lag, inference requests are shed (503 + retry-after), as many as it takes to bring it back under. */
  shed_event_loop_lag_ms: z.number().positive().default(250),
  /**
   * Above this event-loop utilization (share of the last 500 ms the loop was busy) for more than a second,
   * inference requests are shed the same way: a saturated node turns work over quickly, so its lag stays
   * low while requests queue in its sockets. 1 = never (the default: a node that shares its process or a
   * small, busy host with other work reaches 0.98 at loads it can still serve; 0.98 suits a node that has
   * its cores to itself, see docs/benchmarks.md "Overload curve").
   */
  shed_event_loop_utilization: z.number().min(0.5).max(1).default(1),
  /** Inference requests beyond this many in flight are shed at once (0 = no limit). */
  shed_max_in_flight: z.number().int().min(0).default(0),
  retry_after_seconds: z.number().int().min(1).max(3600).default(1),
  /** Time below the ready thresholds before /ready answers 200 again. */
  recovery_ms: z.number().int().min(0).max(60_000).default(1000),
});

export const serverSchema = z.strictObject({
  host: z.string().default('0.0.0.0'),
  port: port.default(DEFAULT_HTTP_PORT),
  drain_timeout_seconds: z.number().min(0).default(DEFAULT_DRAIN_TIMEOUT_SECONDS),
  /** Seconds at the start of a drain during which the node keeps accepting new requests
   *  while load balancers notice /ready = 503. */
  drain_accept_seconds: z.number().min(0).default(DEFAULT_DRAIN_ACCEPT_SECONDS),
  admin_token: z.string().optional(),
  /** Extra Host names under which browsers may reach a token-less admin API (DNS rebinding guard). */
  allowed_hosts: z.array(z.string().min(1).max(253)).default([]),
  max_body_bytes: z
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  /** Time allowed to receive a request's headers (slowloris guard). */
  headers_timeout_seconds: z.number().positive().default(10),
  /** Time allowed to receive a whole request body. */
  request_timeout_seconds: z.number().positive().default(60),
  keep_alive_timeout_seconds: z.number().positive().default(65),
  max_header_bytes: z
    .number()
    .int()
    .positive()
    .default(32 * 1024),
  overload: overloadSchema.prefault({}),
});

export const loggingSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  format: z.enum(['json', 'pretty']).default('json'),
});

export const observabilitySchema = z.strictObject({
  request_log: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** How long entries are kept; older ones are deleted by a periodic job. */
      retention: fixedDuration.default('7d'),
      /** Request and response bodies in the log (secrets scrubbed); off by default. */
      bodies: z.boolean().default(false),
      /** Bytes kept of each body when body logging is on. */
      max_body_bytes: z
        .number()
        .int()
        .positive()
        .default(64 * 1024),
      /** Records waiting to be written; beyond it new records are dropped and counted. */
      queue_size: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  otel: z
    .strictObject({
      /** OTLP/HTTP traces endpoint (".../v1/traces" appended when it has no path); else OTEL_EXPORTER_OTLP_* apply. */
      endpoint: z.string().url().optional(),
      protocol: z.enum(['http/protobuf', 'http/json']).optional(),
      headers: z.record(z.string(), z.string()).optional(),
      sample_ratio: z.number().min(0).max(1).default(1),
      service_name: z.string().min(1).default('deepintshield'),
    })
    .prefault({}),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  server: serverSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  providers: z
    .record(
      z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'provider names are lowercase letters, digits, "_" and "-"'),
      providerSchema,
    )
    .default({}),
  governance: governanceSchema.prefault({}),
  cluster_config: clusterSchema.prefault({}),
  observability: observabilitySchema.prefault({}),
  config_store: configStoreSchema.default({
    enabled: true,
    type: 'sqlite',
    config: { path: DEFAULT_SQLITE_PATH, tombstone_retention: '7d' },
  }),
});

export type Config = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type ProviderKeyConfig = z.infer<typeof providerKeySchema>;
export type AzureKeyConfig = z.infer<typeof azureKeyConfigSchema>;
export type VertexKeyConfig = z.infer<typeof vertexKeyConfigSchema>;
export type BedrockKeyConfig = z.infer<typeof bedrockKeyConfigSchema>;
export type NetworkConfig = z.infer<typeof networkConfigSchema>;
export type MockConfig = z.infer<typeof mockConfigSchema>;
export type VirtualKeyConfig = z.infer<typeof virtualKeySchema>;
export type GovernanceConfig = z.infer<typeof governanceSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type DiscoveryConfig = z.infer<typeof discoverySchema>;
export type GossipConfig = z.infer<typeof gossipSchema>;
export type ConfigStoreConfig = z.infer<typeof configStoreSchema>;
export type ServerConfig = z.infer<typeof serverSchema>;
export type OverloadConfig = z.infer<typeof overloadSchema>;
export type ObservabilityConfig = z.infer<typeof observabilitySchema>;

/** The provider's wire type: explicit `type`, else the provider's own name when that is a known type. */
export function providerTypeOf(
  name: string,
  p: { type?: ProviderType | undefined },
): ProviderType | undefined {
  if (p.type) return p.type;
  return isProviderType(name) ? name : undefined;
}
