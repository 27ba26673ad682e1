import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_PATH } from '../../src/config/defaults.js';
import { UI_HTML } from '../../src/server/ui/page.js';
import { startThreeNodes } from '../deploy/cluster-helpers.js';
import { NodeProcess } from '../support/node-process.js';
import { freePort } from '../support/ports.js';
import { requireBinary } from '../support/system.js';
import { waitFor } from '../support/wait.js';
import { fakeLogs } from './fake-logs.js';

const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/ui');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * The dashboard in headless Chromium against a real 3-node cluster on the
 * default store: a SQLite file per node, kept in step by config replication,
 * so what one node's UI creates shows on another node's UI through it.
 */
describe('dashboard /ui in Chromium', () => {
  let nodes: NodeProcess[] = [];
  let context: BrowserContext | undefined;
  let profile = '';
  const pageErrors: string[] = [];
  const external: string[] = [];

  const chat = (n: NodeProcess, vk?: string) =>
    fetch(`${n.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(vk ? { 'x-deepintshield-vk': vk } : {}) },
      body: JSON.stringify({ model: 'mock/mock-model', messages: [{ role: 'user', content: 'hello' }] }),
      signal: AbortSignal.timeout(5000),
    });

  const open = async (hash: string, base = nodes[0]!): Promise<Page> => {
    const page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith(base.url)) external.push(r.url());
    });
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${base.url}${UI_PATH}#/${hash}`);
    return page;
  };
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    const exe = requireBinary('chromium');
    mkdirSync(ARTIFACTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), 'dis-chromium-'));
    try {
      nodes = await startThreeNodes('ui', {
        governance: {
          virtual_keys: [
            {
              id: 'team-file',
              value: 'sk-team-file-0123456789',
              description: 'declared in the config file',
              allowed_models: ['mock/mock-model'],
              // A month, not an hour: the usage page reads the current window ~30 s after the requests, and a
              // CI run that crossed a full hour read the new, empty window (0 / 100).
              rate_limit: { request_max_limit: 100, request_reset_duration: '1M' },
              budget: { max_limit: 5, reset_duration: '1M' },
            },
          ],
        },
      });
      for (let i = 0; i < 6; i++)
        // the first requests may meet a limiter still syncing its first window
        await waitFor(async () => (await chat(nodes[i % 3]!, 'sk-team-file-0123456789')).status === 200, {
          timeoutMs: 10_000,
          what: 'a governed request',
        });
      context = await chromium.launchPersistentContext(profile, {
        executablePath: exe,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1360, height: 860 },
      });
    } catch (err) {
      await context?.close();
      await Promise.all(nodes.map((n) => n.destroy()));
      throw err;
    }
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await Promise.all(nodes.map((n) => n.destroy()));
    rmSync(profile, { recursive: true, force: true });
  });

  it('is one self-contained page, precompressed with an ETag; GET / redirects to it', async () => {
    expect(UI_HTML).not.toMatch(/\b(src|href)\s*=\s*["'](https?:)?\/\//i);
    expect(UI_HTML).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
    expect(UI_HTML).not.toMatch(/@import|fetch\(\s*["'](https?:)?\/\//i);
    const url = `${nodes[0]!.url}${UI_PATH}`;
    const raw = await new Promise<{ enc?: string; etag?: string; body: Buffer }>((res, rej) => {
      get(url, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
        const parts: Buffer[] = [];
        r.on('data', (d: Buffer) => parts.push(d));
        r.on('end', () =>
          res({ enc: r.headers['content-encoding'], etag: r.headers.etag, body: Buffer.concat(parts) }),
        );
      }).on('error', rej);
    });
    expect(raw.enc).toBe('gzip');
    expect(gunzipSync(raw.body).toString('utf8')).toBe(UI_HTML);
    expect((await fetch(url, { headers: { 'if-none-match': raw.etag! } })).status).toBe(304);
    const root = await fetch(`${nodes[1]!.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe(UI_PATH);
  });

  it('cluster page: three live members, health, and every extra status field as a table', async () => {
    const page = await open('cluster');
    const rows = page.locator('#members tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3);
    await expect.poll(() => page.locator('#health').textContent(), { timeout: 15_000 }).toBe('HEALTHY');
    const names = await page.locator('#members tbody tr td:first-child').allTextContents();
    expect(names.map((n) => n.replace(' (this node)', '')).sort()).toEqual(['ui-1', 'ui-2', 'ui-3']);
    const cells = await page.locator('#members tbody tr[data-node="ui-2"] td').allTextContents();
    expect(cells[1]).toBe('alive');
    expect(cells[4]).toBe(`127.0.0.1:${nodes[1]!.port}`);
    expect(await page.locator('#k-members').textContent()).toBe('3');
    // fields the status may grow (traffic state per provider/key/model, per-node health) render generically
    await page.route('**/cluster/status', async (route) => {
      const real = await (await route.fetch()).json();
      real.traffic = { providers: { mock: { rps: 4.2, error_rate: 0.01, p50_ms: 12 } } };
      real.nodes[0].health = { score: 0.98, circuits_open: 0 };
      await route.fulfill({ json: real });
    });
    await expect
      .poll(() => page.locator('section[data-field="traffic"] td').first().textContent())
      .toBe('mock');
    await expect.poll(() => page.locator('#node-extra').isVisible()).toBe(true);
    expect(await page.locator('#node-extra th').allTextContents()).toContain('health.score');
    await shot(page, 'cluster');
    await page.close();
  });

  it('providers page: lists, creates, shows field errors inline, deletes', async () => {
    const page = await open('providers');
    await expect.poll(() => page.locator('#providers tr[data-provider="mock"]').count()).toBe(1);
    // field errors from the admin API land next to their fields
    await page.click('#new-provider');
    await page.fill('[data-path="name"]', 'Bad Name');
    await page.fill('[data-path="network_config.base_url"]', 'not a url');
    await page.fill('[data-path="network_config.max_retries"]', '99');
    await page.click('#provider-save');
    await expect.poll(() => page.locator('[data-path="name"]').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('[data-errfor="name"]').textContent()).toMatch(/lowercase/);
    expect(await page.locator('[data-path="network_config.base_url"]').getAttribute('aria-invalid')).toBe(
      'true',
    );
    expect(await page.locator('[data-errfor="network_config.base_url"]').textContent()).not.toBe('');
    expect(await page.locator('[data-errfor="network_config.max_retries"]').textContent()).toMatch(/10/);
    await shot(page, 'providers-field-errors');
    // fix them and create
    await page.fill('[data-path="name"]', 'mock-ui');
    await page.selectOption('#provider-form select', 'mock');
    await page.fill('[data-path="network_config.base_url"]', '');
    await page.fill('[data-path="network_config.max_retries"]', '1');
    await page.fill('[data-path="keys.0.value"]', 'mock-ui-key-123');
    await page.click('#provider-save');
    await expect.poll(() => page.locator('#providers tr[data-provider="mock-ui"]').count()).toBe(1);
    // another node has it through replication
    const other = await waitFor(
      async () => {
        const r = await fetch(`${nodes[2]!.url}/api/providers/mock-ui`);
        return r.status === 200 ? ((await r.json()) as { type: string }) : undefined;
      },
      { timeoutMs: 10_000, what: 'the provider replicated to node 3' },
    );
    expect(other.type).toBe('mock');
    expect(JSON.stringify(other)).not.toContain('mock-ui-key-123');
    await shot(page, 'providers');
    await page.locator('#providers tr[data-provider="mock-ui"] button', { hasText: 'Delete' }).click();
    await expect.poll(() => page.locator('#providers tr[data-provider="mock-ui"]').count()).toBe(0);
    await page.close();
  });

  it('virtual keys page: field errors inline; a key created in the UI works on another node', async () => {
    const page = await open('keys');
    await expect.poll(() => page.locator('#keys tr[data-vk="team-file"]').count()).toBe(1);
    await page.click('#new-vk');
    await page.fill('[data-path="id"]', 'bad id!');
    await page.fill('[data-path="value"]', 'short');
    await page.fill('[data-path="rate_limit.request_max_limit"]', '-5');
    await page.click('#vk-save');
    await expect.poll(() => page.locator('[data-path="id"]').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('[data-errfor="id"]').textContent()).toMatch(/letters, digits/);
    expect(await page.locator('[data-errfor="value"]').textContent()).toMatch(/at least 8/);
    expect(await page.locator('[data-errfor="rate_limit.request_max_limit"]').textContent()).not.toBe('');
    expect(await page.locator('#form-error').count()).toBe(0);
    await shot(page, 'keys-field-errors');

    await page.fill('[data-path="id"]', 'ui-made');
    await page.click('#vk-generate');
    const value = await page.inputValue('[data-path="value"]');
    expect(value).toMatch(/^sk-dis-[0-9a-f]{48}$/);
    await page.fill('[data-path="allowed_models"]', 'mock/mock-model');
    await page.fill('[data-path="rate_limit.request_max_limit"]', '50');
    await page.fill('[data-path="budget.max_limit"]', '2.5');
    await page.click('#vk-save');
    await expect.poll(() => page.locator('#vk-created-value').textContent()).toBe(value);
    await expect.poll(() => page.locator('#keys tr[data-vk="ui-made"]').count()).toBe(1);
    // the key works on the node whose UI made it, and on another node of the cluster
    expect((await chat(nodes[0]!, value)).status).toBe(200);
    await expect.poll(async () => (await chat(nodes[1]!, value)).status, { timeout: 5000 }).toBe(200);
    expect((await chat(nodes[2]!, 'sk-dis-not-a-key-000000')).status).toBe(401);
    // and node 2's own UI lists it: its SQLite store got it through replication
    const second = await open('keys', nodes[1]!);
    await expect
      .poll(() => second.locator('#keys tr[data-vk="ui-made"]').count(), { timeout: 10_000 })
      .toBe(1);
    await second.close();
    // a duplicate id answers 409: shown above the form
    await page.click('#new-vk');
    await page.fill('[data-path="id"]', 'ui-made');
    await page.fill('[data-path="value"]', 'another-value-0123456789');
    await page.click('#vk-save');
    await expect.poll(() => page.locator('#form-error').textContent()).toMatch(/already exists/);
    await page.click('#panel-close');
    await expect
      .poll(() => page.locator('#keys tr[data-vk="ui-made"] td').nth(3).textContent())
      .toMatch(/ \/ 50$/);
    // edit: the value is never sent back, so saving without it is stopped in the browser; with it, the change applies
    await page.locator('#keys tr[data-vk="ui-made"] button', { hasText: 'Edit' }).click();
    expect(await page.locator('[data-path="id"]').isDisabled()).toBe(true);
    expect(await page.inputValue('[data-path="allowed_models"]')).toBe('mock/mock-model');
    await page.fill('[data-path="rate_limit.request_max_limit"]', '70');
    await page.click('#vk-save');
    await expect
      .poll(() => page.locator('[data-errfor="value"]').textContent())
      .toMatch(/enter the value again/);
    await page.fill('[data-path="value"]', value);
    await page.click('#vk-save');
    await expect
      .poll(() => page.locator('#keys tr[data-vk="ui-made"] td').nth(3).textContent())
      .toMatch(/ \/ 70$/);
    // (once, right after the PUT, another node answered 402 for a moment: see the report; poll like the create check)
    await expect.poll(async () => (await chat(nodes[2]!, value)).status, { timeout: 5000 }).toBe(200);
    await shot(page, 'keys');
    await page.close();
  });

  it('entities the config file owns are read-only in the UI', async () => {
    const page = await open('keys');
    // the "replication" branch marks file-owned entities; here the answer is decorated the same way
    await page.route('**/api/governance/virtual-keys', async (route) => {
      const real = await (await route.fetch()).json();
      for (const k of real.virtual_keys) if (k.id === 'team-file') k.source = 'file';
      await route.fulfill({ json: real });
    });
    await page.reload();
    const row = page.locator('#keys tr[data-vk="team-file"]');
    await expect.poll(() => row.getAttribute('data-readonly')).toBe('true');
    expect(await row.locator('button').allTextContents()).toEqual(['View']);
    await row.locator('button').click();
    await expect.poll(() => page.locator('#readonly-note').isVisible()).toBe(true);
    expect(await page.locator('[data-path="allowed_models"]').isDisabled()).toBe(true);
    expect(await page.locator('#vk-save').count()).toBe(0);
    await shot(page, 'keys-read-only');
    await page.close();
  });

  it('request log page: real answer or a clear empty state; filters, detail and live tail on the contract shape', async () => {
    const page = await open('logs');
    const real = await fetch(`${nodes[0]!.url}/api/logs?limit=5`);
    if (real.status === 404) {
      await expect.poll(() => page.locator('#logs-unavailable').textContent()).toMatch(/answered 404/);
      await shot(page, 'logs-unavailable');
    } else {
      expect(real.status).toBe(200);
      await expect.poll(() => page.locator('#logs tbody tr').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    }
    // the page against the contract's shape: filters go to the query, rows open a detail view, tail adds rows
    const fake = fakeLogs(40);
    const queries: URLSearchParams[] = [];
    await page.route(/\/api\/logs(\?|\/|$)/, (route) => {
      const u = new URL(route.request().url());
      if (u.pathname.startsWith('/api/logs/')) {
        const e = fake.all.find((x) => x.id === decodeURIComponent(u.pathname.slice(10)));
        return route.fulfill(
          e ? { json: { ...e, request_body: { model: e.model, messages: [] } } } : { status: 404, json: {} },
        );
      }
      queries.push(u.searchParams);
      return route.fulfill({ json: fake.page(u.searchParams) });
    });
    await page.reload();
    await expect.poll(() => page.locator('#logs tbody tr').count()).toBe(40);
    await page.fill('#log-filters input[name="provider"]', 'openai');
    await page.fill('#log-filters input[name="status"]', '429');
    await page.click('#log-filters button[type="submit"]');
    await expect.poll(() => queries.at(-1)?.get('status')).toBe('429');
    expect(queries.at(-1)?.get('provider')).toBe('openai');
    await expect.poll(() => page.locator('#logs tbody tr').count()).toBeLessThan(40);
    await page.click('#log-filters button:has-text("Clear")');
    await expect.poll(() => page.locator('#logs tbody tr').count()).toBe(40);
    await page.locator('#logs tbody tr').first().click();
    await expect.poll(() => page.locator('#log-detail').textContent()).toContain(fake.all[0]!.request_id);
    expect(await page.locator('#panel pre').count()).toBe(1);
    await shot(page, 'logs-detail');
    await page.click('#panel-close');
    await page.click('#logs-tail');
    fake.add(3);
    await expect.poll(() => page.locator('#logs tbody tr').count(), { timeout: 10_000 }).toBe(43);
    expect(await page.locator('#logs tbody tr').first().getAttribute('data-id')).toBe(fake.all[0]!.id);
    await shot(page, 'logs');
    await page.close();
  });

  it('usage page: current windows from governance, charts over time per key, provider and model', async () => {
    const page = await open('usage');
    const row = page.locator('#vks tr[data-vk="team-file"] td');
    await expect.poll(() => row.nth(3).textContent(), { timeout: 10_000 }).toMatch(/^\d+ \/ 100$/);
    expect(Number((await row.nth(3).textContent())!.split(' ')[0])).toBeGreaterThanOrEqual(6);
    const fake = fakeLogs(120);
    await page.route(/\/api\/logs(\?|$)/, (route) =>
      route.fulfill({ json: fake.page(new URL(route.request().url()).searchParams) }),
    );
    await page.reload();
    await expect
      .poll(() => page.locator('#chart-requests rect').count(), { timeout: 10_000 })
      .toBeGreaterThan(5);
    expect(await page.locator('#chart-cost rect').count()).toBeGreaterThan(5);
    expect(await page.locator('#totals-keys tbody tr').count()).toBe(3);
    expect(await page.locator('#totals-models tbody tr[data-name="openai/gpt-4o-mini"]').count()).toBe(1);
    await shot(page, 'usage');
    await page.close();
  });

  it('a node with an admin token asks for it, refuses a wrong one, and manages with the right one', async () => {
    const solo = new NodeProcess({
      config: {
        server: { host: '127.0.0.1', port: await freePort(), admin_token: 'admin-token-0123456789' },
      },
    }).start();
    try {
      await solo.waitReady();
      const page = await open('keys', solo);
      await expect.poll(() => page.locator('#keys-box').textContent()).toMatch(/Sign in to see virtual keys/);
      // the cluster page needs no token
      await page.click('nav a[data-page="cluster"]');
      await expect.poll(() => page.locator('#members tbody tr').count()).toBe(1);
      await page.click('nav a[data-page="keys"]');
      await page.click('#login');
      await page.fill('#login-token', 'wrong-token');
      await page.click('#login-dialog button[type="submit"]');
      await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/not accepted/);
      expect(await page.locator('#signed-in').count()).toBe(0);
      await shot(page, 'login');
      await page.fill('#login-token', 'admin-token-0123456789');
      await page.click('#login-dialog button[type="submit"]');
      await expect.poll(() => page.locator('#signed-in').count()).toBe(1);
      await expect.poll(() => page.locator('#keys-box').textContent()).toMatch(/No virtual keys/);
      await page.click('#new-vk');
      await page.fill('[data-path="id"]', 'with-token');
      await page.click('#vk-generate');
      await page.click('#vk-save');
      await expect.poll(() => page.locator('#keys tr[data-vk="with-token"]').count()).toBe(1);
      await page.close();
    } finally {
      await solo.destroy();
    }
  });

  it('shows a killed node as suspect or dead without a reload; no page error, nothing fetched off-node', async () => {
    const page = await open('cluster');
    await expect.poll(() => page.locator('#members tbody tr').count(), { timeout: 15_000 }).toBe(3);
    const before = await page.evaluate(() => performance.timeOrigin);
    nodes[2]!.signal('SIGKILL');
    await expect
      .poll(() => page.locator('#members tbody tr[data-node="ui-3"]').getAttribute('data-state'), {
        timeout: 20_000,
        interval: 250,
      })
      .toMatch(/^(suspect|dead)$/);
    expect(await page.evaluate(() => performance.timeOrigin)).toBe(before);
    expect(await page.locator('#members tbody tr[data-node="ui-3"] td').nth(2).textContent()).toBe('no');
    await shot(page, 'cluster-node-down');
    await page.close();
    expect(pageErrors).toEqual([]);
    expect(external).toEqual([]);
  });
});
