import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { OverloadConfig } from '../config/schema.js';
import { errorBody, HttpError } from './errors.js';
import type { Route } from './router.js';

/** How long the event-loop utilization must stay above its threshold before requests are shed for it. */
const SATURATED_AFTER_MS = 1000;

/** What a shed request is answered, in each route family's error shape. */
const OVERLOADED = new HttpError(
  503,
  'this node is overloaded; retry shortly or on another node',
  'service_unavailable',
  'overloaded',
);

export interface OverloadGuardOptions {
  config: OverloadConfig;
  /** Mean event-loop lag of the last ~500 ms, ms. */
  loopLagMs: () => number;
  /** Event-loop utilization of the last ~500 ms (0..1). */
  loopUtilization?: () => number;
  inFlight: () => number;
  registry?: Registry;
  now?: () => number;
  /** How often the admitted fraction is adjusted. */
  adjustIntervalMs?: number;
  random?: () => number;
}

/**
 * Overload protection for one node. Two outputs:
 * - readiness: /ready turns 503 while the event-loop lag or the in-flight
 *   count is past its threshold, and comes back once both have stayed below
 *   70% of it for `recovery_ms`, so load balancers move traffic to peers and
 *   back without flapping;
 * - early shedding: an admitted fraction of inference requests, cut by a
 *   tenth every adjustment while the lag or the event-loop utilization is
 *   above its shed threshold and raised by a twentieth while both are
 *   below (AIMD, so the node settles at what it can serve instead of
 *   oscillating); the others are answered at once with 503 + retry-after
 *   in the route family's error shape, before their
 *   body is read or any upstream is called. Past `shed_max_in_flight`
 *   every new request is shed.
 */
export class OverloadGuard {
  private admitted = 1;
  private lastAdjust = 0;
  private overloadedSince: number | undefined;
  private busySince: number | undefined;
  private calmSince: number | undefined;
  private notReady = false;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly shedCount: Counter | undefined;
  private readonly body: string;

  constructor(private readonly opts: OverloadGuardOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.body = JSON.stringify(errorBody(OVERLOADED.message, OVERLOADED.type, OVERLOADED.code));
    if (opts.registry) {
      this.shedCount = new Counter({
        name: 'deepintshield_overload_shed_total',
        help: 'Inference requests refused early with 503 because the node was overloaded',
        registers: [opts.registry],
      });
      const guard = this;
      new Gauge({
        name: 'deepintshield_overload_admitted_ratio',
        help: 'Fraction of inference requests the overload guard admits now (1 = all)',
        registers: [opts.registry],
        collect() {
          this.set(guard.admitted);
        },
      });
    }
  }

  /** Undefined when ready, else why not (for the /ready checks). */
  readiness(): string | undefined {
    const c = this.opts.config;
    if (!c.enabled) return undefined;
    const t = this.now();
    const lag = this.opts.loopLagMs();
    const inFlight = this.opts.inFlight();
    const over =
      lag > c.ready_max_event_loop_lag_ms || (c.ready_max_in_flight > 0 && inFlight > c.ready_max_in_flight);
    const calm =
      lag <= 0.7 * c.ready_max_event_loop_lag_ms &&
      (c.ready_max_in_flight === 0 || inFlight <= 0.7 * c.ready_max_in_flight);
    if (over) {
      this.notReady = true;
      this.calmSince = undefined;
      this.overloadedSince ??= t;
    } else if (this.notReady) {
      if (!calm) this.calmSince = undefined;
      else {
        this.calmSince ??= t;
        if (t - this.calmSince >= c.recovery_ms) {
          this.notReady = false;
          this.overloadedSince = undefined;
        }
      }
    }
    return this.notReady
      ? `overloaded (event-loop lag ${Math.round(lag)} ms, ${inFlight} in flight)`
      : undefined;
  }

  /** True when this request should be refused now (call once per request). */
  shouldShed(): boolean {
    const c = this.opts.config;
    if (!c.enabled) return false;
    if (c.shed_max_in_flight > 0 && this.opts.inFlight() > c.shed_max_in_flight) return true;
    this.adjust();
    return this.admitted < 1 && this.random() >= this.admitted;
  }

  /** The admitted fraction now (1 = all). */
  get admittedFraction(): number {
    return this.admitted;
  }

  /** Answers 503 + retry-after without reading the body (`body`: the route family's error JSON). */
  shed(res: ServerResponse, body = this.body): void {
    this.shedCount?.inc();
    res.writeHead(503, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'retry-after': String(this.opts.config.retry_after_seconds),
    });
    res.end(body);
  }

  /** The same routes with early shedding in front of each handler; the 503 in each route's error shape. */
  guard(routes: Route[]): Route[] {
    return routes.map((r) => {
      const body = r.errorBody ? JSON.stringify(r.errorBody(OVERLOADED)) : this.body;
      return {
        ...r,
        handler: (req: IncomingMessage, res: ServerResponse, ctx) => {
          if (this.shouldShed()) {
            this.shed(res, body);
            req.resume();
            return;
          }
          return r.handler(req, res, ctx);
        },
      };
    });
  }

  private adjust(): void {
    const t = this.now();
    const every = this.opts.adjustIntervalMs ?? 100;
    const steps = Math.floor((t - this.lastAdjust) / every);
    if (steps < 1) return;
    this.lastAdjust = t;
    const c = this.opts.config;
    // Utilization must stay above its threshold for a while: start-up and a burst of JIT or GC also fill the loop.
    if (
      c.shed_event_loop_utilization < 1 &&
      (this.opts.loopUtilization?.() ?? 0) > c.shed_event_loop_utilization
    )
      this.busySince ??= t;
    else this.busySince = undefined;
    const saturated =
      this.opts.loopLagMs() > c.shed_event_loop_lag_ms ||
      (this.busySince !== undefined && t - this.busySince >= SATURATED_AFTER_MS);
    if (saturated) this.admitted = Math.max(0.02, this.admitted * 0.9);
    // Quiet intervals with no request count too: recovery does not wait for traffic.
    else this.admitted = Math.min(1, this.admitted + 0.05 * Math.min(20, steps));
  }
}
