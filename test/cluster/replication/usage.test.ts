import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeProcess } from '../../support/node-process.js';
import { freePorts } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';
import { admin, startReplicas, vkBody } from './harness.js';

const VK = 'usage-replicated';
const VALUE = vkBody(VK).value;

async function tokensUsed(n: NodeProcess): Promise<number | undefined> {
  const r = await admin(n, 'GET', '/api/governance/usage');
  const body = (await r.json()) as { virtual_keys: { id: string; tokens?: number }[] };
  return body.virtual_keys.find((k) => k.id === VK)?.tokens;
}

async function chat(n: NodeProcess): Promise<number> {
  const r = await fetch(`${n.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-deepintshield-vk': VALUE },
    body: JSON.stringify({ model: 'mock/m', messages: [{ role: 'user', content: 'hello there' }] }),
    signal: AbortSignal.timeout(5000),
  });
  await r.arrayBuffer();
  return r.status;
}

/**
 * Usage of long windows (budgets, daily token limits) in the SQLite-replica mode: every node keeps
 * every node's usage it has seen, persisted in its own replica, so spending survives the loss of the
 * node that spent it and a restart of all the others; no shared database holds it.
 */
describe('replicated usage across 3 node processes (SQLite each)', () => {
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    const ports = await freePorts(6);
    await startReplicas(nodes, ports.slice(0, 3), ports.slice(3));
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it('tokens spent on a node that is then lost for good still count after the others restart', async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const created = await admin(
      a,
      'POST',
      '/api/governance/virtual-keys',
      vkBody(VK, { rate_limit: { token_max_limit: 1_000_000, token_reset_duration: '1d' } }),
    );
    expect(created.status).toBe(201);
    await waitFor(async () => (await tokensUsed(b)) !== undefined && (await tokensUsed(c)) !== undefined, {
      timeoutMs: 10_000,
      what: 'the key on every node',
    });
    for (let i = 0; i < 3; i++) expect(await chat(a)).toBe(200);
    const spent = (await tokensUsed(a)) ?? 0;
    expect(spent).toBeGreaterThan(0);
    await waitFor(async () => (await tokensUsed(b)) === spent && (await tokensUsed(c)) === spent, {
      timeoutMs: 10_000,
      what: "a's usage seen by b and c",
    });
    a.signal('SIGKILL'); // no shutdown save on a: only b and c hold its usage now
    await a.waitExit();
    await Promise.all([b.stop(), c.stop()]);
    b.start();
    c.start();
    await Promise.all([b.waitReady(30_000), c.waitReady(30_000)]);
    expect(await tokensUsed(b)).toBe(spent);
    expect(await tokensUsed(c)).toBe(spent);
    // And it keeps counting from there.
    expect(await chat(b)).toBe(200);
    await waitFor(async () => ((await tokensUsed(c)) ?? 0) > spent, { timeoutMs: 10_000, what: 'new spend' });
  });
});
