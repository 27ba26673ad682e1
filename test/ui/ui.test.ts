import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_PATH } from '../../src/config/defaults.js';
import { UI_HTML } from '../../src/server/ui/page.js';
import { startThreeNodes } from '../deploy/cluster-helpers.js';
import type { NodeProcess } from '../helpers/node-process.js';
import { requireBinary } from '../helpers/system.js';

const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');

describe('cluster dashboard /ui', () => {
  let nodes: NodeProcess[] = [];
  let context: BrowserContext | undefined;
  let profile = '';

  beforeAll(async () => {
    const exe = requireBinary('chromium');
    profile = mkdtempSync(join(tmpdir(), 'dis-chromium-'));
    try {
      nodes = await startThreeNodes('ui', {
        governance: {
          virtual_keys: [
            {
              id: 'team-ui',
              value: 'sk-team-ui-0123456789',
              allowed_models: ['mock/mock-model'],
              rate_limit: { request_max_limit: 100, request_reset_duration: '1m' },
              budget: { max_limit: 5, reset_duration: '1M' },
            },
          ],
        },
      });
      context = await chromium.launchPersistentContext(profile, {
        executablePath: exe,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
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

  it('is one self-contained page, served precompressed with an ETag', async () => {
    expect(UI_HTML).not.toMatch(/\b(src|href)\s*=\s*["'](https?:)?\/\//i);
    expect(UI_HTML).not.toMatch(/https?:\/\/(?!localhost)/);
    const url = `${nodes[0]!.url}${UI_PATH}`;
    const gz = await fetch(url, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.status).toBe(200);
    expect(gz.headers.get('content-type')).toMatch(/^text\/html/);
    const etag = gz.headers.get('etag')!;
    expect(etag).toBeTruthy();
    // fetch() decodes gzip itself: ask node:http-level facts through a raw request instead
    const raw = await new Promise<{ enc?: string; body: Buffer }>((res, rej) => {
      import('node:http').then(({ get }) =>
        get(url, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
          const parts: Buffer[] = [];
          r.on('data', (d: Buffer) => parts.push(d));
          r.on('end', () => res({ enc: r.headers['content-encoding'], body: Buffer.concat(parts) }));
        }).on('error', rej),
      );
    });
    expect(raw.enc).toBe('gzip');
    expect(gunzipSync(raw.body).toString('utf8')).toBe(UI_HTML);
    const again = await fetch(url, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    // every node serves it
    for (const n of nodes) expect((await fetch(`${n.url}${UI_PATH}`)).status).toBe(200);
  });

  it('shows three members live, the virtual keys, and a killed node as suspect/dead', async () => {
    const page = await context!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(nodes[0]!.url)) external.push(r.url());
    });
    // usage of virtual keys, in the shape the page reads (the endpoint is optional on the server)
    await page.route('**/api/governance/usage', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({
          virtual_keys: [{ id: 'team-ui', requests: 40, tokens: 1200, spend_usd: 4.5 }],
        }),
      }),
    );
    await page.goto(`${nodes[0]!.url}${UI_PATH}`);
    const rows = page.locator('#members tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3);
    await expect.poll(() => page.locator('#health').textContent(), { timeout: 15_000 }).toBe('HEALTHY');
    const names = await page.locator('#members tbody tr td:first-child').allTextContents();
    expect(names.sort()).toEqual(['ui-1', 'ui-2', 'ui-3']);
    // one row: name, state, healthy, gossip address, HTTP address, version, incarnation, rps, in-flight, error rate
    const cells = await page.locator('#members tbody tr[data-node="ui-2"] td').allTextContents();
    expect(cells).toHaveLength(10);
    expect(cells[1]).toBe('alive');
    expect(cells[4]).toBe(`127.0.0.1:${nodes[1]!.port}`);
    // virtual keys section (the admin API answers 200 without a token here)
    await expect.poll(() => page.locator('#vk-section').isVisible(), { timeout: 10_000 }).toBe(true);
    const vkCells = page.locator('#vks tbody tr[data-vk="team-ui"] td');
    await expect.poll(() => vkCells.nth(3).textContent(), { timeout: 10_000 }).toBe('40 / 100');
    expect(await vkCells.nth(4).textContent()).toBe('1200 / no limit');
    expect(await vkCells.nth(5).textContent()).toBe('4.5 / 5');

    // live update without reload: kill -9 a node, the page shows it suspect or dead
    const before = await page.evaluate(() => performance.timeOrigin);
    nodes[2]!.signal('SIGKILL');
    await expect
      .poll(() => page.locator('#members tbody tr[data-node="ui-3"]').getAttribute('data-state'), {
        timeout: 20_000,
        interval: 250,
      })
      .toMatch(/^(suspect|dead)$/);
    expect(await page.evaluate(() => performance.timeOrigin)).toBe(before);
    // (cluster health is not asserted here: NOT HEALTHY while ui-3 is suspect, HEALTHY again once it is dead)
    expect(await page.locator('#members tbody tr[data-node="ui-3"] td').nth(2).textContent()).toBe('no');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'ui.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });

  it('on a node whose admin API needs a token, hides the virtual keys section and still shows members', async () => {
    const { NodeProcess } = await import('../helpers/node-process.js');
    const { freePort } = await import('../helpers/ports.js');
    const solo = new NodeProcess({
      config: {
        server: { host: '127.0.0.1', port: await freePort(), admin_token: 'admin-token-0123456789' },
      },
    }).start();
    try {
      await solo.waitReady();
      const page = await context!.newPage();
      const keysAnswer = page.waitForResponse((r) => r.url().endsWith('/api/governance/virtual-keys'), {
        timeout: 10_000,
      });
      await page.goto(`${solo.url}${UI_PATH}`);
      await expect.poll(() => page.locator('#members tbody tr').count(), { timeout: 10_000 }).toBe(1);
      await expect.poll(() => page.locator('#health').textContent(), { timeout: 10_000 }).toBe('HEALTHY');
      // the keys list answered 401 (admin token required): the section is hidden, nothing broke
      expect((await keysAnswer).status()).toBe(401);
      await expect.poll(() => page.locator('#err').textContent(), { timeout: 5000 }).toBe('');
      expect(await page.locator('#vk-section').isVisible()).toBe(false);
      await page.close();
    } finally {
      await solo.destroy();
    }
  });
});
