import { describe, expect, it } from 'vitest';
import { overloadSchema } from '../../src/config/schema.js';
import { OverloadGuard } from '../../src/server/overload.js';

function guard(over: Partial<Record<string, number>> = {}) {
  const state = { lag: 0, inFlight: 0, t: 0, elu: 0.3 };
  const g = new OverloadGuard({
    config: overloadSchema.parse({ recovery_ms: 1000, ready_max_event_loop_lag_ms: 150, ...over }),
    loopLagMs: () => state.lag,
    loopUtilization: () => state.elu,
    inFlight: () => state.inFlight,
    now: () => state.t,
    random: () => 0.5,
  });
  return { g, state };
}

describe('OverloadGuard', () => {
  it('turns /ready 503 past the lag threshold and recovers only after the lag stayed low', () => {
    const { g, state } = guard();
    expect(g.readiness()).toBeUndefined();
    state.lag = 400;
    expect(g.readiness()).toMatch(/overloaded/);
    state.lag = 140; // below the threshold but above 70% of it: not calm yet
    state.t = 5000;
    expect(g.readiness()).toMatch(/overloaded/);
    state.lag = 10;
    state.t = 5100;
    expect(g.readiness()).toMatch(/overloaded/);
    state.t = 6200;
    expect(g.readiness()).toBeUndefined();
  });

  it('sheds a growing share while the lag stays above the shed threshold, and admits all again after it falls', () => {
    const { g, state } = guard();
    state.lag = 600;
    let shed = 0;
    for (let i = 0; i < 100; i++) {
      state.t += 100;
      if (g.shouldShed()) shed++;
    }
    expect(g.admittedFraction).toBeLessThan(0.1);
    expect(shed).toBeGreaterThan(80);
    state.lag = 5;
    // Two seconds with no request at all still count towards recovery.
    state.t += 2000;
    expect(g.shouldShed()).toBe(false);
    expect(g.admittedFraction).toBe(1);
  });

  it('sheds while the event loop is saturated with little lag (utilization above the threshold), not below it', () => {
    // Off by default (docs/configuration.md): 1 = never.
    expect(overloadSchema.parse({}).shed_event_loop_utilization).toBe(1);
    const { g, state } = guard({ shed_event_loop_utilization: 0.98 });
    state.lag = 20;
    state.elu = 0.995;
    // Under a second of it (start-up, a GC burst) sheds nothing.
    for (let i = 0; i < 9; i++) {
      state.t += 100;
      expect(g.shouldShed()).toBe(false);
    }
    expect(g.admittedFraction).toBe(1);
    for (let i = 0; i < 30; i++) {
      state.t += 100;
      g.shouldShed();
    }
    expect(g.admittedFraction).toBeLessThan(0.1);
    // Busy but not saturated: back to admitting all.
    state.elu = 0.9;
    state.t += 2000;
    expect(g.shouldShed()).toBe(false);
    expect(g.admittedFraction).toBe(1);
    // The default, 1, never sheds for it.
    const { g: off, state: s2 } = guard();
    s2.elu = 1;
    for (let i = 0; i < 30; i++) {
      s2.t += 100;
      off.shouldShed();
    }
    expect(off.admittedFraction).toBe(1);
  });

  it('sheds everything past shed_max_in_flight, and nothing when disabled', () => {
    const { g, state } = guard({ shed_max_in_flight: 10, ready_max_in_flight: 5 });
    state.inFlight = 11;
    expect(g.shouldShed()).toBe(true);
    expect(g.readiness()).toMatch(/11 in flight/);
    const off = new OverloadGuard({
      config: overloadSchema.parse({ enabled: false, shed_max_in_flight: 1 }),
      loopLagMs: () => 1e6,
      inFlight: () => 1e6,
    });
    expect(off.shouldShed()).toBe(false);
    expect(off.readiness()).toBeUndefined();
  });

  it('answers 503 with retry-after in the OpenAI error shape', () => {
    const { g } = guard({ retry_after_seconds: 2 });
    const written: { status?: number; headers?: Record<string, unknown>; body?: string } = {};
    const res = {
      writeHead(status: number, headers: Record<string, unknown>) {
        written.status = status;
        written.headers = headers;
      },
      end(body: string) {
        written.body = body;
      },
    };
    g.shed(res as never);
    expect(written.status).toBe(503);
    expect(written.headers?.['retry-after']).toBe('2');
    expect(JSON.parse(written.body!)).toEqual({
      error: { message: expect.any(String), type: 'service_unavailable', param: null, code: 'overloaded' },
    });
  });

  it('a guarded route of another API family sheds in its own error shape', async () => {
    const { g, state } = guard({ shed_max_in_flight: 1 });
    state.inFlight = 5;
    const [r] = g.guard([
      {
        method: 'POST',
        path: '/anthropic/v1/messages',
        handler: () => undefined,
        errorBody: (e) => ({ type: 'error', error: { type: 'overloaded_error', message: e.message } }),
      },
    ]);
    let body = '';
    let status = 0;
    const res = {
      writeHead: (s: number) => {
        status = s;
      },
      end: (b: string) => {
        body = b;
      },
    };
    await r!.handler({ resume() {} } as never, res as never, {} as never);
    expect(status).toBe(503);
    expect(JSON.parse(body)).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: expect.any(String) },
    });
  });
});
