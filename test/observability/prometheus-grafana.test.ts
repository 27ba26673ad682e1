import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePort, freePorts } from '../support/ports.js';
import { requireBinary } from '../support/system.js';
import { sleep, waitFor } from '../support/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
const JOB = 'deepintshield';
const VK = 'vk-prom-team-value-0001';

/** Every Grafana dashboard shipped under deploy/, with the PromQL of each panel target. */
function dashboards(): { file: string; queries: { panel: string; expr: string }[] }[] {
  const out: { file: string; queries: { panel: string; expr: string }[] }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/grafana.*\.json$|dashboard.*\.json$/i.test(p)) {
        const d = JSON.parse(readFileSync(p, 'utf8')) as {
          panels?: { title: string; targets?: { expr?: string }[] }[];
        };
        const queries = (d.panels ?? []).flatMap((panel) =>
          (panel.targets ?? []).filter((t) => t.expr).map((t) => ({ panel: panel.title, expr: t.expr! })),
        );
        out.push({ file: p.slice(ROOT.length + 1), queries });
      }
    }
  };
  walk(join(ROOT, 'deploy'));
  return out;
}

/** The dashboard's variables as Grafana substitutes them with "All" selected and a short range. */
function substitute(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '15s')
    .replaceAll('$__interval', '5s')
    .replaceAll('$__range', '1m')
    .replaceAll('$job', JOB)
    .replaceAll('$instance', '.*');
}

describe('a real Prometheus scrapes a 3-node cluster; every shipped Grafana query returns data', () => {
  let dir: string;
  let prometheus: ChildProcess | undefined;
  let dnsmasq: ChildProcess | undefined;
  let promUrl: string;
  let nodes: NodeProcess[] = [];

  beforeAll(async () => {
    const promBin = requireBinary('prometheus');
    requireBinary('dnsmasq');
    dir = mkdtempSync(join(tmpdir(), 'dis-prom-'));
    const ports = await freePorts(6);
    const gossip = ports.slice(0, 3);
    const http = ports.slice(3);
    // DNS discovery (SRV records naming the nodes' gossip ports) on nodes 1-2; node 3 asks a Consul agent that is
    // not there, so the discovery panels have successes and failures to show.
    const dnsPort = await freePort();
    const noConsul = await freePort();
    dnsmasq = spawn(
      'dnsmasq',
      [
        '--no-daemon',
        '--no-resolv',
        '--no-hosts',
        `--port=${dnsPort}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--local=/test/',
        '--local-ttl=1',
        '--host-record=node.prom.test,127.0.0.1',
        ...gossip.map((p) => `--srv-host=_gossip._udp.prom.test,node.prom.test,${p}`),
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      ],
      { stdio: 'ignore' },
    );
    nodes = [0, 1, 2].map((i) =>
      new NodeProcess({
        config: {
          server: { host: '127.0.0.1', port: http[i], drain_accept_seconds: 0, drain_timeout_seconds: 2 },
          providers: {
            mock: { keys: [{ name: 'k1', value: 'mock-key-1' }], mock_config: { latency_ms: 1 } },
            flaky: {
              type: 'mock',
              keys: [{ name: 'k1', value: 'mock-key-2' }],
              mock_config: { fail_rate: 1, fail_status: 503 },
            },
          },
          governance: { virtual_keys: [{ id: 'team-prom', value: VK }] },
          cluster_config: {
            enabled: true,
            node_name: `prom-${i + 1}`,
            bind_address: '127.0.0.1',
            peers: gossip.filter((_, j) => j !== i).map((p) => `127.0.0.1:${p}`),
            discovery:
              i === 2
                ? {
                    enabled: true,
                    type: 'consul',
                    consul_address: `127.0.0.1:${noConsul}`,
                    interval: '1s',
                    dial_timeout: '10s',
                  }
                : {
                    enabled: true,
                    type: 'dns',
                    dns_names: ['_gossip._udp.prom.test'],
                    dns_servers: [`127.0.0.1:${dnsPort}`],
                    bind_port: gossip[i],
                    dial_timeout: '10s',
                    interval: '1s',
                    allowed_address_space: ['127.0.0.0/8'],
                  },
            gossip: {
              port: gossip[i],
              timings: { profile: 'local' },
              config: {
                timeout_seconds: 1,
                interval_seconds: 0.5,
                success_threshold: 1,
                failure_threshold: 2,
              },
            },
          },
        },
      }).start(),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const cfg = join(dir, 'prometheus.yml');
    writeFileSync(
      cfg,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    static_configs:',
        `      - targets: [${http.map((p) => `'127.0.0.1:${p}'`).join(', ')}]`,
        '',
      ].join('\n'),
    );
    mkdirSync(join(dir, 'tsdb'));
    prometheus = spawn(
      promBin,
      [
        `--config.file=${cfg}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );
    await Promise.all(nodes.map((n) => n.waitReady(60_000)));
    await waitFor(async () => (await nodes[0]!.status()).cluster_health === 'HEALTHY', {
      timeoutMs: 30_000,
      what: 'healthy cluster',
    });
    // Traffic: answers, upstream failures (5xx), a governance rejection, spend and tokens on a virtual key.
    const post = (n: NodeProcess, model: string, headers: Record<string, string> = {}) =>
      fetch(`${n.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
        signal: AbortSignal.timeout(10_000),
      }).then((r) => r.arrayBuffer());
    // A garbage datagram on a gossip port: a dropped packet.
    const sock = createSocket('udp4');
    await new Promise<void>((r) =>
      sock.send(Buffer.from('not memberlist'), gossip[0], '127.0.0.1', () => r()),
    );
    sock.close();
    const deadline = Date.now() + 12_000;
    for (let round = 0; round < 60 && Date.now() < deadline; round++) {
      await Promise.all(
        nodes.flatMap((n) => [
          post(n, 'mock/gpt-4o-mini', { 'x-deepintshield-vk': VK }),
          post(n, 'mock/gpt-4o-mini'),
          post(n, 'flaky/m'),
          post(n, 'mock/m', { 'x-deepintshield-vk': 'not-a-key' }),
        ]),
      );
      await sleep(200);
    }
    await waitFor(
      async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as {
          data: { activeTargets: { health: string }[] };
        };
        return r.data.activeTargets.length === 3 && r.data.activeTargets.every((t) => t.health === 'up');
      },
      { timeoutMs: 30_000, what: 'prometheus targets up' },
    );
  }, 180_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    dnsmasq?.kill('SIGTERM');
    await Promise.all(nodes.map((n) => n.destroy()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the shipped dashboard', () => {
    const ds = dashboards();
    expect(ds.length).toBeGreaterThan(0);
    expect(ds.every((d) => d.queries.length > 0)).toBe(true);
  });

  it('every panel query returns at least one series', async () => {
    const empty: string[] = [];
    const queries = dashboards().flatMap((d) => d.queries.map((q) => ({ ...q, file: d.file })));
    await waitFor(
      async () => {
        empty.length = 0;
        for (const q of queries) {
          const url = `${promUrl}/api/v1/query?query=${encodeURIComponent(substitute(q.expr))}`;
          const r = (await (await fetch(url)).json()) as {
            status: string;
            error?: string;
            data?: { result: unknown[] };
          };
          if (r.status !== 'success') empty.push(`${q.file} "${q.panel}": ${r.error} — ${q.expr}`);
          else if ((r.data?.result.length ?? 0) === 0)
            empty.push(`${q.file} "${q.panel}": no data — ${q.expr}`);
        }
        return empty.length === 0;
      },
      { timeoutMs: 30_000, intervalMs: 2000, what: 'every dashboard query to return data' },
    ).catch(() => {
      throw new Error(`queries without data:\n${empty.join('\n')}`);
    });
  }, 90_000);
});
