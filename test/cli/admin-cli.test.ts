import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePort } from '../support/ports.js';

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const TOKEN = 'admin-token-cli-0123456789';
const run = promisify(execFile);

/** The `deepintshield` CLI's admin subcommands against a real node, and `start --port/--host`. */
describe('deepintshield keys / providers / start --port --host', () => {
  let node: NodeProcess;
  let port = 0;

  const cli = async (...args: string[]) => {
    try {
      const r = await run(process.execPath, [MAIN, ...args], {
        env: { ...process.env, DEEPINTSHIELD_URL: node.url, DEEPINTSHIELD_ADMIN_TOKEN: TOKEN },
        timeout: 20_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    port = await freePort();
    // the config says port 1 on every interface; the flags win (the URL the test uses follows the flag)
    const flagPort = port;
    class FlagNode extends NodeProcess {
      override get port(): number {
        return flagPort;
      }
    }
    node = new FlagNode({
      config: {
        server: { host: '0.0.0.0', port: 1, admin_token: TOKEN },
        providers: { mock: { keys: [{ name: 'k', value: 'mock-key-0123' }] } },
      },
      args: ['--port', String(port), '--host', '127.0.0.1'],
    }).start();
    await node.waitReady();
  });

  afterAll(async () => {
    await node?.destroy();
  });

  it('start --port/--host override server.port/server.host', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    const bad = await run(process.execPath, [MAIN, 'start', '--port', '70000']).catch((e) => e);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/must be a port number/);
  });

  it('keys create / list / delete, field errors exit 2', async () => {
    const made = await cli(
      'keys',
      'create',
      'cli-team',
      '--models',
      'mock/mock-model',
      '--requests',
      '10',
      '--budget',
      '3',
    );
    expect(made.code, made.stderr).toBe(0);
    const value = /value \(shown once\): (sk-dis-[0-9a-f]{48})/.exec(made.stdout)?.[1];
    expect(value).toBeDefined();
    const chat = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-deepintshield-vk': value! },
      body: JSON.stringify({ model: 'mock/mock-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(200);
    const list = await cli('keys', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+STATUS/);
    expect(list.stdout).toMatch(/cli-team\s+active\s+mock\/mock-model\s+10\/1m\s+-\s+3\/1M/);
    expect(list.stdout).not.toContain(value!);
    const json = JSON.parse((await cli('keys', 'list', '--json')).stdout);
    expect(json.virtual_keys.map((k: { id: string }) => k.id)).toContain('cli-team');

    const bad = await cli('keys', 'create', 'bad id!', '--value', 'short');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^id: must be 1-128 letters/m);
    expect(bad.stderr).toMatch(/^value: must be at least 8 characters/m);
    const dupe = await cli('keys', 'create', 'cli-team');
    expect(dupe.code).toBe(1);
    expect(dupe.stderr).toMatch(/409.*already exists/);

    expect((await cli('keys', 'delete', 'cli-team')).code).toBe(0);
    expect((await cli('keys', 'list')).stdout).not.toContain('cli-team');
    const gone = await cli('keys', 'delete', 'cli-team');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/404/);
  });

  it('providers create / list / delete', async () => {
    const made = await cli('providers', 'create', 'mock-cli', '--type', 'mock', '--key', 'mock-cli-key-0123');
    expect(made.code, made.stderr).toBe(0);
    const list = await cli('providers', 'list');
    expect(list.stdout).toMatch(/mock-cli\s+mock\s+1\s+all\s+default/);
    expect(list.stdout).not.toContain('mock-cli-key-0123');
    const bad = await cli('providers', 'create', 'oops', '--type', 'nope', '--base-url', 'not-a-url');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^type: must be one of/m);
    expect(bad.stderr).toMatch(/^network_config\.base_url: /m);
    expect((await cli('providers', 'delete', 'mock-cli')).code).toBe(0);
    expect((await cli('providers', 'list')).stdout).not.toContain('mock-cli');
  });

  it('a wrong token is explained', async () => {
    const r = await run(process.execPath, [MAIN, 'keys', 'list', '--url', node.url, '--token', 'wrong'], {
      timeout: 20_000,
    }).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/401.*--token or set DEEPINTSHIELD_ADMIN_TOKEN/);
  });
});
