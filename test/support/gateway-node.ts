import OpenAI from 'openai';
import { validateConfig } from '../../src/config/load.js';
import { DeepIntShieldNode } from '../../src/node.js';
import { silentLogger } from '../../src/observability/logger.js';
import { freePort } from './ports.js';

/** One in-process gateway node with the given providers, and an OpenAI client pointed at it. */
export async function startGatewayNode(providers: Record<string, unknown>) {
  const port = await freePort();
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port, drain_accept_seconds: 0 },
      providers,
      config_store: { type: 'sqlite', config: { path: ':memory:' } },
    },
    'test',
  );
  const node = new DeepIntShieldNode({ config, logger: silentLogger(), configSource: 'test' });
  await node.start();
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    openai: new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 }),
    close: () => node.shutdown('test done'),
  };
}

/** network_config for a provider behind a local fake. */
export const fakeNet = (base_url: string) => ({
  base_url,
  max_retries: 1,
  retry_backoff_initial_ms: 1,
  retry_backoff_max_ms: 5,
  default_request_timeout_in_seconds: 5,
});
