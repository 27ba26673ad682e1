import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import {
  ENTITY_KINDS,
  type EntityKind,
  type ReplicaStore,
  type StoreRow,
  type UsageRow,
} from '../../store/types.js';
import type { ClusterLike, GossipChannel } from '../state/gossip.js';
import { differingBuckets, VersionIndex } from './digest.js';
import { entityKey } from './entity.js';
import { compareHlc, encodeHlc, HybridClock, hlcWall } from './hlc.js';
import {
  BUCKETS,
  CHANNEL_REPLICATION,
  chunkDeltas,
  type Delta,
  type Digest,
  decodeMessage,
  encodeMessage,
  MAX_BROADCAST_BYTES,
  MAX_USAGE_ROWS_PER_MESSAGE,
  type Message,
  type Pull,
  type Summary,
  type UsageMessage,
  type WireEntity,
} from './wire.js';

export const DEFAULT_TOMBSTONE_RETENTION_MS = 7 * 86_400_000;
/** Usage older than the longest window (a year, plus slack) is never current. */
const USAGE_HORIZON_MS = 400 * 86_400_000;
const SYNCED_AT_KEY = 'replica_synced_at';
const MAX_QUEUED_PER_PEER = 256;
/** An unanswered digest stops holding back new exchanges after this long (a lost message). */
const EXCHANGE_TIMEOUT_MS = 5000;
/** A digest message lists at most this many versions; bigger replicas are compared in several. */
const MAX_DIGEST_ENTRIES_PER_MESSAGE = 20_000;

/** The cluster as replication sees it; `firstJoinDone` is read when present (Cluster has it). */
export interface ReplicationCluster extends ClusterLike {
  readonly firstJoinDone?: boolean;
}

export interface ReplicatorOptions {
  store: ReplicaStore;
  nodeName: string;
  logger: Logger;
  registry?: Registry;
  tombstoneRetentionMs?: number;
  /** Checks a remote entity with the admin API's schemas: undefined when it must not be installed. */
  validate: (
    kind: EntityKind,
    id: string,
    data: Record<string, unknown>,
  ) => Record<string, unknown> | undefined;
  /** Remote changes were written to the store: re-read its change feed. */
  onChanged: () => Promise<void>;
  /** The replica was wiped for a full resync: reload from scratch. */
  onReset: () => Promise<void>;
  /** Persisted usage received from a peer while catching up (already saved to the store). */
  onUsage?: (rows: UsageRow[]) => void;
  now?: () => number;
  /** How often a summary goes to one random peer (besides memberlist's push/pull). */
  antiEntropyIntervalMs?: number;
  /** A node that is not stale stops waiting for peers after this long and serves its replica. */
  initialSyncTimeoutMs?: number;
  /** Versions listed per digest message (default 20,000); bigger replicas are compared in parts. */
  digestEntriesPerMessage?: number;
}

/**
 * This node's full replica of the cluster's config, kept equal to every
 * peer's: local writes are stamped with a hybrid logical clock and sent as
 * deltas (directly to every live peer, and on the gossip queue when small);
 * summaries (bucket hashes of every entity's version) ride memberlist's TCP
 * push/pull and a periodic direct exchange, and a difference is repaired by
 * listing the differing buckets' versions so only differing entities travel.
 * Deletes are tombstones, collected after the retention; a replica older
 * than that retention is discarded and fetched again from a peer.
 */
export class Replicator {
  readonly clock: HybridClock;
  private readonly index = new VersionIndex();
  private readonly retentionMs: number;
  private readonly now: () => number;
  private cluster: ReplicationCluster | undefined;
  private channel: GossipChannel | undefined;
  private lastSyncedAt = 0;
  private persistedSyncedAt = 0;
  private stale = false;
  private initialSynced = false;
  private startedAt = 0;
  private kickTimer: NodeJS.Timeout | undefined;
  private aeTimer: NodeJS.Timeout | undefined;
  private gcTimer: NodeJS.Timeout | undefined;
  /** Peers whose last summary said their replica is stale: nothing of theirs is merged. */
  private readonly stalePeers = new Set<string>();
  private peerCursor = 0;
  private readonly outbox = new Map<string, { tail: Promise<void>; queued: number }>();
  private closed = false;
  /** Per peer: digest parts sent whose answers (each ending with `ack`) have not arrived yet. */
  private readonly pendingAcks = new Map<string, { n: number; at: number }>();
  private work: Promise<void> = Promise.resolve();
  private readonly metrics?: { applied: Counter; rejected: Counter; entities: Gauge; lag: Histogram };

  constructor(private readonly o: ReplicatorOptions) {
    this.now = o.now ?? Date.now;
    this.retentionMs = o.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS;
    this.clock = new HybridClock(o.nodeName, this.now);
    if (o.registry)
      this.metrics = {
        applied: new Counter({
          name: 'deepintshield_replication_applied_total',
          help: 'Remote entity versions written to the local config replica',
          registers: [o.registry],
        }),
        rejected: new Counter({
          name: 'deepintshield_replication_rejected_total',
          help: 'Replication messages or entities refused (malformed, invalid, clock too far ahead)',
          labelNames: ['reason'],
          registers: [o.registry],
        }),
        lag: new Histogram({
          name: 'deepintshield_replication_lag_seconds',
          help: 'From a remote write (its HLC wall time) until it is applied here, for deltas sent at write time',
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers: [o.registry],
        }),
        entities: new Gauge({
          name: 'deepintshield_replication_entities',
          help: 'Entities (tombstones included) in the local config replica',
          registers: [o.registry],
          collect: () => undefined,
        }),
      };
  }

  /** Loads the replica's index; decides whether it is too old to serve. */
  async start(): Promise<void> {
    const { store } = this.o;
    this.startedAt = this.now();
    const backfilled = await store.backfillHlc((t) =>
      encodeHlc({ wall: t, counter: 0, node: this.o.nodeName }),
    );
    if (backfilled > 0) this.o.logger.info({ rows: backfilled }, 'config replica: versioned legacy entities');
    await this.reloadIndex();
    const synced = Number((await store.getMeta(SYNCED_AT_KEY)) ?? 0);
    this.lastSyncedAt = this.persistedSyncedAt = synced;
    if (synced > 0 && this.startedAt - synced > this.retentionMs) {
      this.stale = true;
      this.o.logger.warn(
        { last_synced: new Date(synced).toISOString(), retention_ms: this.retentionMs },
        'config replica is older than the tombstone horizon: it will be replaced by a peer copy before serving',
      );
    }
    await this.collectTombstones();
    this.gcTimer = setInterval(
      () => void this.collectTombstones(),
      Math.min(3_600_000, Math.max(1000, this.retentionMs / 10)),
    );
    this.gcTimer.unref();
  }

  private async reloadIndex(): Promise<void> {
    this.index.clear();
    for (const v of await this.o.store.versions()) {
      const key = entityKey(v.kind, v.id);
      if (v.origin === 'file') this.index.set(key, 'file');
      else if (v.hlc) {
        this.index.set(key, v.hlc);
        // After a restart our clock must not issue versions below what we wrote before.
        try {
          this.clock.observe(v.hlc);
        } catch {
          /* a clock far ahead in our own store: leave ours */
        }
      }
    }
    this.metrics?.entities.set(this.index.size);
  }

  attach(cluster: ReplicationCluster): void {
    this.cluster = cluster;
    const ch = cluster.channel(CHANNEL_REPLICATION);
    this.channel = ch;
    ch.onMessage((payload, from) => {
      if (!from || from === cluster.localName) return;
      const m = decodeMessage(payload);
      if (!m) {
        this.metrics?.rejected.inc({ reason: 'malformed' });
        return;
      }
      this.enqueue(() => this.handle(m, from));
    });
    ch.setLocalState(() => encodeMessage(this.summary()));
    ch.onRemoteState((buf) => {
      const m = decodeMessage(buf);
      if (m?.t !== 'summary') return;
      this.enqueue(() => this.onSummary(m, m.from, false));
    });
    this.kickTimer = setInterval(() => this.kick(), 300);
    this.kickTimer.unref();
    const ae = this.o.antiEntropyIntervalMs ?? 5000;
    this.aeTimer = setInterval(() => this.antiEntropy(), ae);
    this.aeTimer.unref();
  }

  /** Messages are handled one at a time: store writes and index updates never interleave. */
  private enqueue(fn: () => Promise<void>): void {
    this.work = this.work.then(fn).catch((err) => {
      this.o.logger.warn({ err: (err as Error).message }, 'config replication message failed');
    });
  }

  /** For /ready: undefined when this node may serve its replica. */
  readiness(): string | undefined {
    if (!this.cluster) return undefined;
    if (this.stale)
      return 'config replica is older than the tombstone horizon: full resync from a peer in progress';
    if (!this.initialSynced) return 'config replica syncing with peers';
    return undefined;
  }

  /** A version for a local write. */
  stamp(): string {
    return this.clock.tick();
  }

  /** A local admin-API write: index it and send it to every peer. */
  onLocalWrite(row: StoreRow): void {
    if (!row.hlc || row.origin !== 'api') return;
    this.index.set(entityKey(row.kind, row.id), row.hlc);
    this.metrics?.entities.set(this.index.size);
    const ch = this.channel;
    if (!ch || !this.cluster) return;
    const payload = encodeMessage({ t: 'delta', e: [toWire(row)] });
    if (payload.length <= MAX_BROADCAST_BYTES) {
      try {
        ch.broadcast(payload, entityKey(row.kind, row.id));
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'failed to broadcast');
      }
    }
    for (const peer of this.peers()) this.send(peer, payload);
  }

  summary(): Summary {
    return {
      t: 'summary',
      from: this.o.nodeName,
      stale: this.stale,
      n: this.index.size,
      b: this.index.buckets(),
    };
  }

  private peers(): string[] {
    const c = this.cluster;
    if (!c) return [];
    return c
      .members()
      .filter((m) => m.name !== c.localName && (m.state === 'alive' || m.state === 'suspect') && m.tags?.http)
      .map((m) => m.name);
  }

  /**
   * Sends to one peer in order, one message at a time: an answer's final `ack` arrives after its
   * deltas, and a peer never sees more than one of our streams at once. A backlog beyond
   * MAX_QUEUED_PER_PEER is dropped (anti-entropy repairs it).
   */
  private send(peer: string, payload: Buffer): void {
    const q = this.outbox.get(peer) ?? { tail: Promise.resolve(), queued: 0 };
    if (q.queued >= MAX_QUEUED_PER_PEER) {
      this.metrics?.rejected.inc({ reason: 'send_backlog' });
      return;
    }
    q.queued++;
    this.outbox.set(peer, q);
    q.tail = q.tail
      .then(() => this.channel?.sendTo(peer, payload))
      .catch((err) =>
        this.o.logger.debug({ peer, err: (err as Error).message }, 'config replication send failed'),
      )
      .finally(() => {
        q.queued--;
        if (q.queued === 0 && this.outbox.get(peer) === q) this.outbox.delete(peer);
      });
  }

  /** Until the first sync: ask a peer (rotating) for its summary; alone after the first join = in sync. */
  private kick(): void {
    if (this.initialSynced && !this.stale) {
      if (this.kickTimer) clearInterval(this.kickTimer);
      this.kickTimer = undefined;
      return;
    }
    const c = this.cluster;
    if (!c || c.firstJoinDone === false) return;
    const peers = this.peers();
    if (peers.length === 0) {
      // Nobody to learn from: this node is the cluster (a stale replica is the best there is).
      if (this.stale) {
        this.o.logger.warn('no peer to resync the stale config replica from: serving it');
        this.stale = false;
      }
      this.markSynced();
      return;
    }
    if (!this.stale && this.now() - this.startedAt > (this.o.initialSyncTimeoutMs ?? 15_000)) {
      this.o.logger.warn(
        { peers: peers.length },
        'config replica: no peer answered in time, serving the local copy',
      );
      this.initialSynced = true;
      return;
    }
    if (this.exchangeInFlight()) return;
    const peer = peers[this.peerCursor++ % peers.length]!;
    this.send(peer, encodeMessage(this.summary()));
  }

  /** A digest was answered only in part, recently: a big catch-up is still arriving. */
  private exchangeInFlight(peer?: string): boolean {
    const now = this.now();
    for (const [p, v] of this.pendingAcks)
      if ((!peer || p === peer) && now - v.at < EXCHANGE_TIMEOUT_MS) return true;
    return false;
  }

  private antiEntropy(): void {
    const peers = this.peers();
    for (const p of this.pendingAcks.keys()) if (!peers.includes(p)) this.pendingAcks.delete(p);
    if (peers.length === 0) {
      if (this.initialSynced && !this.stale) this.markSynced();
      return;
    }
    const peer = peers[Math.floor(Math.random() * peers.length)]!;
    this.send(peer, encodeMessage(this.summary()));
  }

  private async handle(m: Message, from: string): Promise<void> {
    if (this.closed) return;
    switch (m.t) {
      case 'summary':
        return this.onSummary(m, from, m.reply !== true);
      case 'digest':
        return this.onDigest(m, from);
      case 'pull':
        return this.onPull(m, from);
      case 'delta':
        return this.onDelta(m, from);
      case 'usage':
        return this.onUsage(m, from);
    }
  }

  private async onSummary(s: Summary, from: string, answer: boolean): Promise<void> {
    if (from === this.o.nodeName) return;
    if (answer) this.send(from, encodeMessage({ ...this.summary(), reply: true }));
    if (s.stale) this.stalePeers.add(from);
    else this.stalePeers.delete(from);
    if (this.stale && !s.stale) {
      await this.resyncFrom(from);
      return;
    }
    if (s.stale && !this.stale) return; // it will discard its replica and ask us
    const diff = differingBuckets(this.index.buckets(), s.b);
    const catchingUp = !this.initialSynced;
    if (diff.length === 0) {
      // Same config; while catching up, still ask for the peer's persisted usage.
      if (catchingUp) this.sendDigest(from, [], true);
      this.markSynced();
      return;
    }
    if (catchingUp && this.exchangeInFlight(from)) return;
    this.sendDigest(from, diff, catchingUp);
  }

  private sendDigest(to: string, buckets: number[], init = false): void {
    const byBucket = new Map<number, Digest['e']>(buckets.map((b) => [b, []]));
    for (const [key, v] of this.index.inBuckets(new Set(buckets))) {
      const slash = key.indexOf('/');
      byBucket.get(VersionIndex.bucketOf(key))!.push([key.slice(0, slash), key.slice(slash + 1), v]);
    }
    // Whole buckets per message, so each message can be answered on its own.
    const messages: Digest[] = [];
    let cur: Digest = { t: 'digest', b: [], e: [] };
    for (const [b, entries] of byBucket) {
      const limit = this.o.digestEntriesPerMessage ?? MAX_DIGEST_ENTRIES_PER_MESSAGE;
      if (cur.b.length > 0 && cur.e.length + entries.length > limit) {
        messages.push(cur);
        cur = { t: 'digest', b: [], e: [] };
      }
      cur.b.push(b);
      cur.e.push(...entries);
    }
    messages.push(cur);
    this.pendingAcks.set(to, { n: (this.pendingAcks.get(to)?.n ?? 0) + messages.length, at: this.now() });
    // Usage is asked for once, with the last part.
    for (const [i, m] of messages.entries())
      this.send(to, encodeMessage(init && i === messages.length - 1 ? { ...m, init } : m));
  }

  /** A full resync: drop our replica (it may hold entities whose tombstones are gone) and take the peer's. */
  private async resyncFrom(peer: string): Promise<void> {
    const dropped = await this.o.store.wipeReplica();
    await this.reloadIndex();
    this.stale = false;
    this.initialSynced = false;
    await this.o.onReset();
    this.o.logger.warn(
      { peer, dropped },
      'config replica discarded (older than the tombstone horizon): full resync',
    );
    this.sendDigest(
      peer,
      Array.from({ length: BUCKETS }, (_, i) => i),
      true,
    );
  }

  private async onDigest(d: Digest, from: string): Promise<void> {
    if (this.stale) return;
    const theirs = new Map<string, string>();
    for (const [k, id, v] of d.e) theirs.set(entityKey(k, id), v);
    const send: Array<{ kind: EntityKind; id: string }> = [];
    for (const [key, ours] of this.index.inBuckets(new Set(d.b))) {
      if (ours === 'file') continue;
      const t = theirs.get(key);
      if (t === undefined || (t !== 'file' && compareHlc(ours, t) > 0)) send.push(splitKey(key));
    }
    const want: Pull['want'] = [];
    for (const [key, t] of theirs) {
      if (t === 'file') continue;
      const ours = this.index.get(key);
      if (ours === undefined || (ours !== 'file' && compareHlc(t, ours) > 0)) {
        const { kind, id } = splitKey(key);
        want.push([kind, id]);
      }
    }
    const rows = await this.o.store.rows(send);
    const deltas = chunkDeltas(rows.filter((r) => r.origin === 'api' && r.hlc).map(toWire));
    if (deltas.length === 0) deltas.push({ t: 'delta', e: [] });
    deltas[deltas.length - 1]!.ack = true;
    for (const delta of deltas) this.send(from, encodeMessage(delta));
    if (want.length > 0) this.send(from, encodeMessage({ t: 'pull', want }));
    if (d.init) await this.sendUsage(from);
  }

  /** Usage persisted here (budgets and long windows), for a peer that is catching up. */
  private async sendUsage(to: string): Promise<void> {
    const rows = await this.o.store.loadUsage(this.now() - USAGE_HORIZON_MS);
    for (let i = 0; i < rows.length; i += MAX_USAGE_ROWS_PER_MESSAGE) {
      const r: UsageMessage['r'] = rows
        .slice(i, i + MAX_USAGE_ROWS_PER_MESSAGE)
        .map((u) => [u.counter, u.windowStart, u.node, u.value]);
      this.send(to, encodeMessage({ t: 'usage', r }));
    }
  }

  private async onUsage(m: UsageMessage, from: string): Promise<void> {
    if (this.stale || this.stalePeers.has(from) || m.r.length === 0) return;
    const rows: UsageRow[] = m.r.map(([counter, windowStart, node, value]) => ({
      counter,
      windowStart,
      node,
      value,
    }));
    await this.o.store.saveUsage(rows);
    this.o.onUsage?.(rows);
  }

  private async onPull(p: Pull, from: string): Promise<void> {
    if (this.stale) return;
    const keys = p.want
      .filter(([k]) => (ENTITY_KINDS as readonly string[]).includes(k))
      .map(([kind, id]) => ({ kind: kind as EntityKind, id }));
    const rows = await this.o.store.rows(keys);
    for (const delta of chunkDeltas(rows.filter((r) => r.origin === 'api' && r.hlc).map(toWire)))
      this.send(from, encodeMessage(delta));
  }

  private async onDelta(d: Delta, from: string): Promise<void> {
    if (this.stale || this.stalePeers.has(from)) return;
    const horizon = this.now() - this.retentionMs;
    const accepted = [];
    for (const w of d.e) {
      const e = this.check(w, horizon);
      if (e) accepted.push(e);
    }
    if (accepted.length > 0) {
      const written = await this.o.store.applyRemote(accepted);
      const now = this.now();
      for (const r of written) {
        this.index.set(entityKey(r.kind, r.id), r.hlc!);
        this.clock.observe(r.hlc!);
        // Deltas not answering a digest were sent at write time: their age is the propagation delay.
        if (!d.ack) this.metrics?.lag.observe(Math.max(0, now - hlcWall(r.hlc!)) / 1000);
      }
      if (written.length > 0) {
        this.metrics?.applied.inc(written.length);
        this.metrics?.entities.set(this.index.size);
        await this.o.onChanged();
      }
    }
    if (d.ack) {
      const p = this.pendingAcks.get(from);
      const left = Math.max(0, (p?.n ?? 0) - 1);
      if (p && left > 0) p.n = left;
      else {
        this.pendingAcks.delete(from);
        this.markSynced();
      }
    }
  }

  /** A wire entity as a store entity, or undefined (with a reason counted) when it must not be installed. */
  private check(w: WireEntity, horizon: number) {
    const reject = (reason: string) => {
      this.metrics?.rejected.inc({ reason });
      this.o.logger.debug({ kind: w.k, id: w.id, reason }, 'config replication: entity refused');
      return undefined;
    };
    if (!(ENTITY_KINDS as readonly string[]).includes(w.k)) return reject('unknown_kind');
    const kind = w.k as EntityKind;
    if (!this.clock.acceptable(w.v)) return reject('clock_ahead');
    if (w.d !== (w.data === null)) return reject('inconsistent');
    if (w.d && hlcWall(w.v) < horizon) return reject('expired_tombstone');
    // Stored as received (not as parsed) so every replica holds the same bytes for one version.
    if (w.data && !this.o.validate(kind, w.id, w.data)) return reject('invalid');
    return { kind, id: w.id, hlc: w.v, deleted: w.d, data: w.data };
  }

  private markSynced(): void {
    const now = this.now();
    this.lastSyncedAt = now;
    if (!this.initialSynced) {
      this.initialSynced = true;
      this.o.logger.info(
        { ms: now - this.startedAt, entities: this.index.size },
        'config replica in sync with peers',
      );
    }
    if (now - this.persistedSyncedAt > 60_000) {
      this.persistedSyncedAt = now;
      void this.o.store.setMeta(SYNCED_AT_KEY, String(now)).catch(() => undefined);
    }
  }

  private async collectTombstones(): Promise<void> {
    try {
      const gone = await this.o.store.collectTombstones(this.now() - this.retentionMs);
      for (const g of gone) this.index.delete(entityKey(g.kind, g.id));
      if (gone.length > 0)
        this.o.logger.info({ tombstones: gone.length }, 'config replica: expired tombstones collected');
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'config replica: tombstone collection failed');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of [this.kickTimer, this.aeTimer]) if (t) clearInterval(t);
    if (this.gcTimer) clearInterval(this.gcTimer);
    await this.work;
    if (this.lastSyncedAt > this.persistedSyncedAt)
      await this.o.store.setMeta(SYNCED_AT_KEY, String(this.lastSyncedAt)).catch(() => undefined);
  }
}

function splitKey(key: string): { kind: EntityKind; id: string } {
  const slash = key.indexOf('/');
  return { kind: key.slice(0, slash) as EntityKind, id: key.slice(slash + 1) };
}

function toWire(r: StoreRow): WireEntity {
  return { k: r.kind, id: r.id, v: r.hlc!, d: r.deleted, data: r.deleted ? null : r.data };
}
