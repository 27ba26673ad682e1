import { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureTarget } from '../../src/providers/azure/endpoint.js';
import { startAzureFake } from '../fakes/azure.js';
import type { FakeServer } from '../fakes/llm-brain.js';
import { startGatewayNode } from '../support/gateway-node.js';

let fake: FakeServer;
let gw: Awaited<ReturnType<typeof startGatewayNode>>;

beforeAll(async () => {
  fake = await startAzureFake();
  const net = { max_retries: 0, default_request_timeout_in_seconds: 5 };
  gw = await startGatewayNode({
    azure: {
      keys: [
        {
          value: 'azure-key-1',
          azure_key_config: {
            endpoint: fake.url,
            api_version: '2024-10-21',
            deployments: { 'gpt-4o': 'my-gpt4o' },
          },
        },
      ],
      network_config: net,
    },
    azurev1: {
      type: 'azure',
      keys: [
        {
          value: 'azure-key-1',
          azure_key_config: { endpoint: fake.url, api_version: 'v1', deployments: {} },
        },
      ],
      network_config: net,
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe('Azure contract fake, checked with the openai SDK (AzureOpenAI)', () => {
  it('classic deployments: chat JSON and stream, api-key header, embeddings', async () => {
    const az = new AzureOpenAI({
      endpoint: fake.url,
      apiKey: 'azure-key-1',
      apiVersion: '2024-10-21',
      deployment: 'my-gpt4o',
    });
    const r = await az.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi ü' }],
    });
    expect(r.choices[0]!.message.content).toBe('echo: hi ü');
    expect(fake.requests.at(-1)!.headers['api-key']).toBe('azure-key-1');
    expect(fake.requests.at(-1)!.url).toBe(
      '/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21',
    );
    let text = '';
    for await (const c of await az.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 's' }],
      stream: true,
    })) {
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe('echo: s');
    const e = new AzureOpenAI({
      endpoint: fake.url,
      apiKey: 'azure-key-1',
      apiVersion: '2024-10-21',
      deployment: 'emb-small',
    });
    expect(
      (await e.embeddings.create({ model: 'x', input: 'a', encoding_format: 'float' })).data[0]!.embedding,
    ).toHaveLength(1536);
  });

  it('refuses a wrong key (401) and an unknown deployment (404 DeploymentNotFound)', async () => {
    const bad = new AzureOpenAI({
      endpoint: fake.url,
      apiKey: 'nope',
      apiVersion: '2024-10-21',
      deployment: 'my-gpt4o',
      maxRetries: 0,
    });
    await expect(
      bad.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({ status: 401 });
    const none = new AzureOpenAI({
      endpoint: fake.url,
      apiKey: 'azure-key-1',
      apiVersion: '2024-10-21',
      deployment: 'ghost',
      maxRetries: 0,
    });
    await expect(
      none.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({
      status: 404,
      code: 'DeploymentNotFound',
    });
  });

  it('endpoint resolution: deployments map, own name, v1', () => {
    const cfg = {
      endpoint: 'https://res.openai.azure.com',
      api_version: '2024-10-21',
      deployments: { 'gpt-4o': 'd1' },
    };
    expect(azureTarget(cfg, 'gpt-4o', 'chat').path).toBe(
      '/openai/deployments/d1/chat/completions?api-version=2024-10-21',
    );
    expect(azureTarget(cfg, 'other', 'embeddings').path).toBe(
      '/openai/deployments/other/embeddings?api-version=2024-10-21',
    );
    expect(azureTarget({ ...cfg, api_version: 'v1' }, 'gpt-4o', 'chat')).toMatchObject({
      path: '/openai/v1/chat/completions',
      bodyModel: 'd1',
    });
  });
});

describe('azure provider through the gateway', () => {
  it('classic: deployment from the key, model dropped from the body; tool call; stream', async () => {
    const r = await gw.openai.chat.completions.create({
      model: 'azure/gpt-4o',
      messages: [{ role: 'user', content: 'привет' }],
    });
    expect(r.choices[0]!.message.content).toBe('echo: привет');
    const sent = fake.requests.at(-1)!;
    expect(sent.url).toBe('/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe('azure-key-1');
    const t = await gw.openai.chat.completions.create({
      model: 'azure/gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
      tools: [
        {
          type: 'function',
          function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } } } },
        },
      ],
      tool_choice: 'required',
    });
    expect(t.choices[0]!.message.tool_calls?.[0]).toMatchObject({
      function: { name: 'f', arguments: '{"a":1}' },
    });
    let text = '';
    for await (const c of await gw.openai.chat.completions.create({
      model: 'azure/gpt-4o-mini',
      messages: [{ role: 'user', content: '流れ' }],
      stream: true,
    })) {
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe('echo: 流れ');
  });

  it('v1 API: deployment in the body model', async () => {
    const r = await gw.openai.chat.completions.create({
      model: 'azurev1/gpt-4o-mini',
      messages: [{ role: 'user', content: 'v1' }],
    });
    expect(r.choices[0]!.message.content).toBe('echo: v1');
    const sent = fake.requests.at(-1)!;
    expect(sent.url).toBe('/openai/v1/chat/completions');
    expect(JSON.parse(sent.body.toString()).model).toBe('gpt-4o-mini');
  });
});
