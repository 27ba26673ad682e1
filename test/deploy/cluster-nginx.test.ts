import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, stopNginx, writeNginxConf } from '../support/nginx.js';
import type { NodeProcess } from '../support/node-process.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { startThreeNodes } from './cluster-helpers.js';

/** Requests to `route` each node has served, from its own /metrics. */
async function servedCount(n: NodeProcess, route: string): Promise<number> {
  const text = await (await fetch(`${n.url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^deepintshield_http_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm))
    if (m[1]!.includes(`route="${route}"`)) total += Number(m[2]);
  return total;
}

describe('3-node cluster behind the repo nginx.conf, official openai client', () => {
  let nodes: NodeProcess[] = [];
  let nginx: ChildProcess | undefined;
  let dir = '';
  let client: OpenAI;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dis-lb-'));
    try {
      nodes = await startThreeNodes('lb');
      const lbPort = await freePort();
      const conf = writeNginxConf(
        dir,
        nodes.map((n) => `127.0.0.1:${n.port}`),
        `127.0.0.1:${lbPort}`,
      );
      nginx = await startNginx(dir, conf, `http://127.0.0.1:${lbPort}/health`);
      client = new OpenAI({
        baseURL: `http://127.0.0.1:${lbPort}/v1`,
        apiKey: 'not-needed',
        maxRetries: 0,
        timeout: 10_000,
      });
    } catch (err) {
      await stopNginx(nginx);
      await Promise.all(nodes.map((n) => n.destroy()));
      throw err;
    }
  });

  afterAll(async () => {
    await stopNginx(nginx);
    await Promise.all(nodes.map((n) => n.destroy()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists models through nginx with the openai client, spread over the nodes (least_conn)', async () => {
    for (let i = 0; i < 12; i++) {
      const page = await client.models.list();
      expect(page.data.some((m) => m.id.startsWith('mock/'))).toBe(true);
    }
    const counts = await Promise.all(nodes.map((n) => servedCount(n, '/v1/models')));
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12);
    expect(counts.filter((c) => c > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('serves chat completions (JSON) with the openai client, spread over the nodes', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await client.chat.completions.create({
        model: 'mock/mock-model',
        messages: [{ role: 'user', content: `hello ${i}` }],
      });
      expect(res.object).toBe('chat.completion');
      expect(res.choices[0]!.message.content?.length).toBeGreaterThan(0);
    }
    const counts = await Promise.all(nodes.map((n) => servedCount(n, '/v1/chat/completions')));
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12);
    expect(counts.filter((c) => c > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('streams chat completions (SSE) through nginx', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock/mock-model',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    });
    let chunks = 0;
    let text = '';
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(chunks).toBeGreaterThanOrEqual(2);
    expect(text.length).toBeGreaterThan(0);
  });

  it('proxies the ops endpoints and the dashboard', async () => {
    const base = client.baseURL.replace(/\/v1$/, '');
    // whichever node nginx picks sees the whole, healthy cluster (each node's health view converges on its own)
    await waitFor(
      async () => {
        const s = (await (await fetch(`${base}/cluster/status`)).json()) as {
          members: number;
          cluster_health: string;
        };
        return s.members === 3 && s.cluster_health === 'HEALTHY';
      },
      { timeoutMs: 15_000, what: 'healthy 3-member status through nginx' },
    );
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const ui = await fetch(`${base}/ui`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('<title>DeepIntShield</title>');
    // and / redirects to it through the proxy
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui');
  });

  it('keeps answering when a node is killed (-9): nginx retries on the next upstream', async () => {
    const victim = nodes[1]!;
    victim.signal('SIGKILL');
    await waitFor(() => !victim.running, { timeoutMs: 5000, what: 'victim exit' });
    for (let i = 0; i < 12; i++) {
      const page = await client.models.list();
      expect(page.data.length).toBeGreaterThan(0);
      const res = await client.chat.completions.create({
        model: 'mock/mock-model',
        messages: [{ role: 'user', content: `after kill ${i}` }],
      });
      expect(res.choices[0]!.message.content?.length).toBeGreaterThan(0);
    }
    const stream = await client.chat.completions.create({
      model: 'mock/mock-model',
      messages: [{ role: 'user', content: 's' }],
      stream: true,
    });
    let n = 0;
    for await (const _ of stream) n++;
    expect(n).toBeGreaterThanOrEqual(2);
  });
});
