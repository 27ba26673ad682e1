import type { MemberState } from './membership/state.js';
import type { TrafficSnapshot } from './node-traffic.js';

export interface ClusterNodeStatus {
  name: string;
  address: string;
  http_address: string;
  state: MemberState;
  healthy: boolean;
  incarnation: number;
  version: string;
  traffic: TrafficSnapshot | null;
}

export interface ClusterStatus {
  local_node: string;
  members: number;
  healthy_members: number;
  cluster_health: 'HEALTHY' | 'NOT HEALTHY';
  nodes: ClusterNodeStatus[];
}

/** What the view keeps per member; health and traffic are looked up when a snapshot is taken. */
export interface StatusRow {
  name: string;
  address: string;
  httpAddress: string;
  state: MemberState;
  incarnation: number;
  version: string;
}

export interface StatusSources {
  localName: string;
  isHealthy: (row: StatusRow) => boolean;
  traffic: (name: string) => TrafficSnapshot | null;
  /** The member's current incarnation (it can rise without any event). */
  incarnation?: (name: string) => number | undefined;
}

/**
 * The /cluster/status view, kept up to date by membership events: one row
 * updated per event (names kept sorted by binary insertion), the counts and
 * the health verdict cached until a member or a health check changes. The
 * health verdict (read on every event to log transitions) costs O(1) while
 * nothing changed; only a snapshot for /cluster/status walks the rows.
 */
export class StatusView {
  private readonly rows = new Map<string, StatusRow>();
  private readonly order: string[] = [];
  private counts: { live: number; healthy: number } | undefined;

  constructor(private readonly src: StatusSources) {}

  upsert(row: StatusRow): void {
    if (!this.rows.has(row.name)) this.order.splice(lowerBound(this.order, row.name), 0, row.name);
    this.rows.set(row.name, row);
    this.counts = undefined;
  }

  remove(name: string): void {
    if (!this.rows.delete(name)) return;
    this.order.splice(lowerBound(this.order, name), 1);
    this.counts = undefined;
  }

  /** A health check flipped somewhere: the counts are recomputed on the next read. */
  healthChanged(): void {
    this.counts = undefined;
  }

  get size(): number {
    return this.rows.size;
  }

  summary(): Pick<ClusterStatus, 'members' | 'healthy_members' | 'cluster_health'> {
    if (!this.counts) {
      let live = 0;
      let healthy = 0;
      for (const r of this.rows.values()) {
        if (r.state !== 'alive' && r.state !== 'suspect') continue;
        live++;
        if (this.src.isHealthy(r)) healthy++;
      }
      this.counts = { live, healthy };
    }
    const { live, healthy } = this.counts;
    return {
      members: live,
      healthy_members: healthy,
      cluster_health: healthy === live && live >= 1 ? 'HEALTHY' : 'NOT HEALTHY',
    };
  }

  snapshot(): ClusterStatus {
    const nodes: ClusterNodeStatus[] = [];
    for (const name of this.order) {
      const r = this.rows.get(name)!;
      nodes.push({
        name: r.name,
        address: r.address,
        http_address: r.httpAddress,
        state: r.state,
        healthy: this.src.isHealthy(r),
        incarnation: this.src.incarnation?.(r.name) ?? r.incarnation,
        version: r.version,
        traffic: this.src.traffic(r.name),
      });
    }
    return { local_node: this.src.localName, ...this.summary(), nodes };
  }
}

function lowerBound(sorted: string[], x: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
