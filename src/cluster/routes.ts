import { randomBytes } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import type { Config } from '../config/schema.js';
import { sendJson } from '../server/errors.js';
import type { TrafficSnapshot } from '../server/http-server.js';
import type { Route } from '../server/router.js';
import { VERSION } from '../version.js';
import type { Cluster } from './cluster.js';
import type { ClusterStatus } from './status.js';
import type { TrafficStatus } from './traffic/service.js';

/** `GET /cluster/status`: the cluster's view, or a one-node view when clustering is off. */
export function clusterRoutes(opts: {
  cluster: Cluster | undefined;
  config: Config;
  httpAddress: string;
  traffic: () => TrafficSnapshot;
  /** Cluster-wide traffic intelligence (per provider/key/model, per node health), shown under `traffic`. */
  trafficStatus?: () => TrafficStatus;
}): Route[] {
  const soloName =
    opts.config.cluster_config.node_name ??
    `deepintshield-${hostname()}-${opts.config.cluster_config.gossip.port}-${randomBytes(3).toString('hex')}`;
  const solo = (): ClusterStatus => ({
    local_node: soloName,
    members: 1,
    healthy_members: 1,
    cluster_health: 'HEALTHY',
    nodes: [
      {
        name: soloName,
        address: '',
        http_address: opts.httpAddress,
        state: 'alive',
        healthy: true,
        incarnation: 1,
        version: VERSION,
        traffic: opts.traffic(),
      },
    ],
  });
  return [
    {
      method: 'GET',
      path: '/cluster/status',
      handler: (_req, res) => {
        const status = opts.cluster ? opts.cluster.status() : solo();
        const traffic = opts.trafficStatus?.();
        if (!traffic) return sendJson(res, 200, status);
        // Without a cluster the traffic service has no member name: its first (local) row is this node.
        if (!opts.cluster && traffic.nodes[0]) traffic.nodes[0].name = status.local_node;
        const health = new Map(traffic.nodes.map((n) => [n.name, n]));
        sendJson(res, 200, {
          ...status,
          nodes: status.nodes.map((n) => {
            const h = health.get(n.name);
            return h
              ? {
                  ...n,
                  health: {
                    cpu: h.cpu,
                    rss_mb: h.rss_mb,
                    loop_lag_ms: h.loop_lag_ms,
                    in_flight: h.in_flight,
                  },
                }
              : n;
          }),
          traffic,
        });
      },
    },
  ];
}

/**
 * The HTTP address peers use to health-check this node: the listen host when
 * it is specific, else the gossip advertise/bind address, else the first
 * non-loopback IPv4 address.
 */
export function advertisedHttpAddress(config: Config, port: number): string {
  const wildcard = (h: string | undefined) => !h || h === '0.0.0.0' || h === '::';
  const c = config.cluster_config;
  let host = config.server.host;
  if (wildcard(host)) host = c.advertise_address ?? '';
  if (wildcard(host)) host = wildcard(c.bind_address) ? '' : c.bind_address;
  if (wildcard(host)) {
    host = '127.0.0.1';
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? [])
        if (a.family === 'IPv4' && !a.internal) {
          host = a.address;
          break;
        }
  }
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
