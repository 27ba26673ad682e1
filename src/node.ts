import { hostname } from 'node:os';
import { Cluster } from './cluster/cluster.js';
import { DiscoveryRunner } from './cluster/discovery/runner.js';
import { advertisedHttpAddress, clusterRoutes } from './cluster/routes.js';
import type { RoutingMode } from './cluster/traffic/router.js';
import { TrafficService } from './cluster/traffic/service.js';
import type { Config } from './config/schema.js';
import { Gateway } from './gateway/gateway.js';
import { openApiRoutes } from './governance/openapi.js';
import { GovernanceRuntime } from './governance/runtime.js';
import { Observability } from './observability/index.js';
import type { Logger } from './observability/logger.js';
import { createRegistry, type Registry } from './observability/metrics.js';
import { HttpServer } from './server/http-server.js';
import { opsRoutes } from './server/ops-routes.js';
import { OverloadGuard } from './server/overload.js';
import { Router } from './server/router.js';
import { uiRoutes } from './server/ui/index.js';
import { VERSION } from './version.js';

export interface NodeOptions {
  config: Config;
  logger: Logger;
  configSource: string;
  registry?: Registry;
}

/**
 * Wires one DeepIntShield node: HTTP server, gateway, governance, config
 * store, cluster membership and discovery. Start-up order matters: the store
 * and config first, then HTTP (so peers can health-check us), then gossip.
 */
export class DeepIntShieldNode {
  readonly registry: Registry;
  readonly http: HttpServer;
  readonly gateway: Gateway;
  readonly cluster: Cluster | undefined;
  private discovery: DiscoveryRunner | undefined;
  private discoveryFirstRoundDone = false;
  /** Config store, config sync, governance, cluster-wide counters, admin API. */
  readonly governance: GovernanceRuntime;
  /** Traffic intelligence: cluster-wide stats, adaptive key routing, circuit breakers, quota pacing. */
  readonly traffic: TrafficService;
  readonly overload: OverloadGuard;
  private stopping?: Promise<void>;
  /** Request log (writer, retention, /api/logs) and OpenTelemetry tracer. */
  readonly observability: Observability;

  constructor(private readonly opts: NodeOptions) {
    const { config, logger } = opts;
    this.registry = opts.registry ?? createRegistry();
    this.governance = new GovernanceRuntime({
      config,
      logger,
      registry: this.registry,
      configSource: opts.configSource,
      onProviders: (providers) => {
        this.traffic?.setModes(routingModes(providers));
        this.gateway?.updateProviders(providers);
      },
    });
    this.traffic = new TrafficService({
      mode: 'adaptive',
      inFlight: () => this.http?.inFlightCount ?? 0,
      rps: () => this.http?.traffic().rps ?? 0,
      logger,
      registry: this.registry,
    });
    this.traffic.setModes(routingModes(config.providers));
    this.observability = new Observability({
      config,
      logger,
      registry: this.registry,
      version: VERSION,
      nodeName: () => this.cluster?.localName ?? config.cluster_config.node_name ?? hostname(),
      peers: () =>
        (this.cluster?.members() ?? [])
          .filter((m) => m.name !== this.cluster?.localName)
          .map((m) => ({ name: m.name, httpAddress: m.httpAddress, state: m.state })),
    });
    this.gateway = new Gateway({
      config,
      logger,
      registry: this.registry,
      governance: this.governance.governance,
      keyGate: this.governance.keyGate,
      keyRouter: this.traffic.router,
      observer: this.observability.requestObserver,
      tracer: this.observability.tracer,
    });
    this.overload = new OverloadGuard({
      config: config.server.overload,
      loopLagMs: () => this.traffic.health.loopLagMs,
      loopUtilization: () => this.traffic.health.loopUtilization,
      inFlight: () => this.http?.inFlightCount ?? 0,
      registry: this.registry,
    });
    const router = new Router();
    router.addAll(
      opsRoutes({
        registry: this.registry,
        readiness: [
          () => (this.http.isDraining ? 'draining' : undefined),
          () => this.governance.readiness(),
          () => (this.cluster && !this.cluster.firstJoinDone ? 'cluster join in progress' : undefined),
          () =>
            this.discovery && !this.discoveryFirstRoundDone ? 'first discovery round in progress' : undefined,
          () => this.overload.readiness(),
        ],
      }),
    );
    // Early shedding sits in front of the inference routes only (never /health, /ready, /metrics).
    router.addAll(this.overload.guard(this.gateway.routes()));
    router.addAll(this.governance.routes());
    router.addAll(this.observability.routes());
    this.http = new HttpServer({ config: config.server, logger, registry: this.registry, router });
    const httpAddress = advertisedHttpAddress(config, config.server.port);
    const traffic = () => this.http.traffic();
    if (config.cluster_config.enabled) {
      this.cluster = new Cluster({
        config: config.cluster_config,
        httpAddress,
        version: VERSION,
        logger,
        registry: this.registry,
        traffic,
      });
      this.governance.attachCluster(this.cluster);
      this.traffic.attachCluster(this.cluster);
    }
    router.addAll(
      clusterRoutes({
        cluster: this.cluster,
        config,
        httpAddress,
        traffic,
        trafficStatus: () => this.traffic.status(),
      }),
    );
    router.addAll(uiRoutes());
    router.addAll(openApiRoutes());
  }

  async start(): Promise<void> {
    const { config, logger } = this.opts;
    // Store and config first (bounded wait: a down store does not keep the node from serving).
    await this.governance.start();
    await this.observability.start();
    await this.http.listen();
    this.traffic.start();
    const addr = this.http.address();
    // HTTP first so peers can health-check us as soon as gossip announces us.
    await this.cluster?.start();
    if (this.cluster && config.cluster_config.discovery.enabled) await this.startDiscovery(this.cluster);
    logger.info(
      {
        version: VERSION,
        http: `${addr.host}:${addr.port}`,
        config: this.opts.configSource,
        providers: Object.keys(this.governance.live().providers),
      },
      'deepintshield node started',
    );
  }

  /** Discovery feeds the membership layer's join; its first round counts as part of the first join attempt. */
  private async startDiscovery(cluster: Cluster): Promise<void> {
    const { config, logger } = this.opts;
    const c = config.cluster_config;
    const live = () =>
      new Set(
        cluster
          .members()
          .filter((m) => m.state === 'alive' || m.state === 'suspect')
          .map((m) => m.address),
      );
    this.discovery = new DiscoveryRunner({
      config: c.discovery,
      nodeName: cluster.localName,
      gossipPort: c.gossip.port,
      selfAddress: cluster.memberlist.address.ip,
      encryptionKey: c.gossip.encryption_key ? Buffer.from(c.gossip.encryption_key, 'base64') : undefined,
      logger,
      registry: this.registry,
      join: (addrs) => cluster.join(addrs),
      isMember: (addr) => live().has(addr),
    });
    try {
      await this.discovery.start();
    } finally {
      this.discoveryFirstRoundDone = true;
    }
  }

  /** Graceful drain per the contract, then release everything. */
  shutdown(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      const { config, logger } = this.opts;
      logger.info({ reason, in_flight: this.http.inFlightCount }, 'draining');
      // /ready turns 503 at once (isDraining); leave gossip while in-flight work finishes.
      const drained = this.http.drain(
        config.server.drain_accept_seconds * 1000,
        config.server.drain_timeout_seconds * 1000,
      );
      // Deregister first (Consul, etcd, mDNS goodbye, UDP leaving) so no peer joins us again mid-drain.
      await this.discovery
        ?.stop(true)
        .catch((err) => logger.warn({ err: (err as Error).message }, 'error stopping discovery'));
      const left = this.cluster
        ?.leave()
        .catch((err) => logger.warn({ err: (err as Error).message }, 'error leaving the cluster'));
      const { forced } = await drained;
      await left;
      await this.cluster?.shutdown();
      this.traffic.stop();
      await this.gateway.close();
      await this.observability.close();
      await this.governance.close();
      logger.info({ forced }, 'drained, exiting');
    })();
    return this.stopping;
  }
}

function routingModes(providers: Config['providers']): Record<string, RoutingMode> {
  const out: Record<string, RoutingMode> = {};
  for (const [name, p] of Object.entries(providers)) out[name] = p.network_config.routing;
  return out;
}
