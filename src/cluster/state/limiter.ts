/**
 * The claim rule of the cluster-wide limiter, as pure functions (no clock, no
 * network): how much of a window's limit one node may add to its cap. The
 * safety argument lives in docs/design-limits.md; test/cluster/state/limiter
 * tests it as a property (Σ admitted ≤ limit) on random traffic.
 */

/** One node's slot as the claiming node knows it. */
export interface SlotView {
  name: string;
  used: number;
  cap: number;
  /** What this node was asked for in the window so far (admitted or not). */
  asked: number;
  /** What it is expected to be asked for in the rest of the window from its history (the last window). */
  expect?: number;
  /** What it was asked for in the whole last window: the weight of its entitlement (settled, so every node sees the same). */
  history?: number;
}

export interface ClaimInput {
  self: string;
  limit: number;
  /** Every participant, self included (a peer without a slot yet: zeros). */
  nodes: readonly SlotView[];
  /** limit − Σ max(cap, used) − reservations for unreachable peers, in this node's view. */
  pool: number;
  /** What the request at hand needs. */
  want: number;
  /** At most this much per claim (what peers reserve for us if they lose us right after it). */
  bound: number;
  /** Fraction of the window gone, in (0, 1]. */
  elapsed: number;
  /** Amounts are whole units: every share is apportioned in whole units. */
  integer: boolean;
  /** Claiming ahead of need (no request waiting): only from the node's own entitlement. */
  ahead?: boolean;
}

/**
 * Splits `total` among `weights` in proportion; with `integer`, by largest
 * remainders with ties broken by name, so every node that sees the same
 * weights computes the same whole-unit split.
 */
export function apportion(
  total: number,
  weights: readonly { name: string; w: number }[],
  integer: boolean,
): Map<string, number> {
  const out = new Map<string, number>();
  let sum = 0;
  for (const e of weights) sum += Math.max(0, e.w);
  if (weights.length === 0 || total <= 0) {
    for (const e of weights) out.set(e.name, 0);
    return out;
  }
  const exact = weights.map((e) => ({
    name: e.name,
    q: sum > 0 ? (total * Math.max(0, e.w)) / sum : total / weights.length,
  }));
  if (!integer) {
    for (const e of exact) out.set(e.name, e.q);
    return out;
  }
  const whole = Math.floor(total + 1e-9);
  let given = 0;
  for (const e of exact) {
    const f = Math.floor(e.q + 1e-9);
    out.set(e.name, f);
    given += f;
  }
  const order = [...exact].sort((a, b) => {
    const ra = a.q - Math.floor(a.q + 1e-9);
    const rb = b.q - Math.floor(b.q + 1e-9);
    return rb - ra || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
  for (let i = 0; given < whole && i < order.length; i++, given++)
    out.set(order[i]!.name, out.get(order[i]!.name)! + 1);
  return out;
}

/**
 * The weight of a node's claim on the limit: what it was asked for in the whole last window (final, so
 * every node computes the same entitlements: counts of the current window differ between views by the
 * requests in flight, and entitlements computed from them would overlap), plus an even prior of a full
 * even share, which keeps entitlements near-even for small counts; skew within a window is served by
 * the free part (idle nodes' unneeded entitlement).
 */
export function demandWeights(nodes: readonly SlotView[], limit: number, integer: boolean) {
  const prior = Math.max(integer ? 1 : 1e-9, limit / Math.max(1, nodes.length));
  return nodes.map((n) => ({ name: n.name, w: (n.history ?? 0) + prior }));
}

/**
 * How much `self` may add to its cap now.
 *
 * Every node is entitled to its demand share of the whole limit (apportioned
 * in whole units for requests), and may always claim what it has not yet
 * claimed of that entitlement. What others leave of their entitlement beyond
 * what they will need for the rest of the window (extrapolated from what they
 * were asked so far, or from the last window) is free, and split among the nodes
 * that are short by the same share rule. Light, evenly spread load is thus served exactly (each node
 * holds its share before it needs it), and heavy skewed load converges to the
 * demand shares. What a claim takes beyond the node's own share is `borrowed`: the idle owner may
 * have claimed the same units in a message not yet seen, so the caller may use it only once every
 * peer has echoed the claim (see DistributedCounters).
 */
export function claimAmount(x: ClaimInput): { amount: number; borrowed: number } {
  if (x.pool <= 1e-9) return { amount: 0, borrowed: 0 };
  const weights = demandWeights(x.nodes, x.limit, x.integer);
  const entitled = apportion(x.limit, weights, x.integer);
  const rest = (1 - x.elapsed) / Math.max(x.elapsed, 1e-3);
  let reservedForOthers = 0;
  const short: { name: string; w: number }[] = [];
  let ownRoom = 0;
  /** What others hold beyond their entitlement: borrowed, possibly from ours. */
  let othersExcess = 0;
  for (const n of x.nodes) {
    const held = Math.max(n.cap, n.used);
    if (n.name !== x.self) othersExcess += Math.max(0, held - (entitled.get(n.name) ?? 0));
    const room = Math.max(0, (entitled.get(n.name) ?? 0) - held);
    if (n.name === x.self) {
      ownRoom = room;
      short.push({ name: n.name, w: n.asked + 1e-9 });
      continue;
    }
    const need = Math.max(n.asked * rest, n.expect ?? 0);
    reservedForOthers += Math.min(room, need);
    if (need > room) short.push({ name: n.name, w: n.asked });
  }
  let amount = Math.min(ownRoom, x.pool);
  if (amount < x.want && !x.ahead) {
    const free = x.pool - ownRoom - reservedForOthers;
    if (free > 1e-9) amount += apportion(free, short, x.integer).get(x.self) ?? 0;
  }
  amount = Math.min(amount, x.pool, Math.max(x.bound, x.want));
  if (x.integer) amount = Math.floor(amount + 1e-9);
  // Only the part of our room nobody can have borrowed is disjoint from every other claim: a peer that
  // borrowed from our room may hold units our (possibly stale) pool still counts as free.
  const disjoint = Math.max(0, ownRoom - othersExcess);
  return { amount, borrowed: Math.max(0, amount - disjoint) };
}
