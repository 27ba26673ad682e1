import { validateConfig } from '../../src/config/load.js';
import { DeepIntShieldNode } from '../../src/node.js';
import { silentLogger } from '../../src/observability/logger.js';
import { freePort } from './ports.js';

export interface InProcessNode {
  node: DeepIntShieldNode;
  port: number;
  base: string;
  stop(): Promise<void>;
}

/**
 * One node in the test's own process: loopback HTTP on a free port, the mock
 * provider, an in-memory SQLite store, no cluster. `overrides` is merged into
 * the config file object (shallow per top-level section). Overload shedding is
 * off unless `server.overload` is given: the node shares the test worker's event
 * loop, whose lag on a busy CI machine is the tests' own, not the node's.
 */
export async function startInProcessNode(overrides: Record<string, unknown> = {}): Promise<InProcessNode> {
  const port = await freePort();
  const { server, ...rest } = overrides as { server?: Record<string, unknown> };
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port, drain_accept_seconds: 0, overload: { enabled: false }, ...server },
      providers: { mock: { keys: [{ value: 'mock-key' }] } },
      config_store: { type: 'sqlite', config: { path: ':memory:' } },
      ...rest,
    },
    'test',
  );
  const node = new DeepIntShieldNode({ config, logger: silentLogger(), configSource: 'test' });
  await node.start();
  return {
    node,
    port,
    base: `http://127.0.0.1:${port}`,
    stop: () => node.shutdown('test done'),
  };
}
