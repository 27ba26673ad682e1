import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BedrockFake, startBedrockFake } from '../fakes/bedrock.js';
import { startCohereFake } from '../fakes/cohere.js';
import type { FakeServer } from '../fakes/llm-brain.js';
import { startVertexFake, type VertexFake } from '../fakes/vertex.js';
import { fakeNet, startGatewayNode } from '../support/gateway-node.js';

let cohere: FakeServer;
let bedrock: BedrockFake;
let vertex: VertexFake;
let gw: Awaited<ReturnType<typeof startGatewayNode>>;

beforeAll(async () => {
  [cohere, bedrock, vertex] = await Promise.all([startCohereFake(), startBedrockFake(), startVertexFake()]);
  gw = await startGatewayNode({
    cohere: { keys: [{ value: 'cohere-key-1' }], network_config: fakeNet(cohere.url) },
    bedrock: {
      keys: [
        {
          bedrock_key_config: {
            access_key: 'AKIDFAKE',
            secret_key: 'fake-secret',
            region: 'us-east-1',
            deployments: { claude: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0' },
          },
        },
      ],
      network_config: fakeNet(bedrock.url),
    },
    vertex: {
      keys: [
        {
          vertex_key_config: {
            project_id: vertex.projectId,
            region: vertex.region,
            auth_credentials: vertex.serviceAccountJson,
          },
        },
      ],
      network_config: fakeNet(vertex.url),
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([cohere?.close(), bedrock?.close(), vertex?.close()]);
});

async function listed(): Promise<string[]> {
  const r = await fetch(`${gw.base}/v1/models`);
  const j = (await r.json()) as { data: { id: string }[] };
  return j.data.map((m) => m.id);
}

describe('GET /v1/models lists what Cohere, Bedrock and Vertex list', () => {
  it('includes every page of each upstream list, filtered to what the gateway serves', async () => {
    const want = [
      'cohere/command-a-03-2025',
      'cohere/command-r-plus',
      'cohere/embed-v4.0',
      'bedrock/anthropic.claude-3-5-haiku-20241022-v1:0',
      'bedrock/amazon.nova-lite-v1:0',
      'bedrock/claude',
      'vertex/gemini-2.5-flash',
      'vertex/gemini-2.5-pro',
      'vertex/text-embedding-005',
    ];
    let ids: string[] = [];
    for (let i = 0; i < 100 && !want.every((w) => ids.includes(w)); i++) {
      ids = await listed();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ids).toEqual(expect.arrayContaining(want));
    expect(ids).not.toContain('cohere/rerank-v3.5');
    expect(ids).not.toContain('bedrock/amazon.titan-embed-text-v2:0');
    // Auth verified by the fakes: SigV4 recomputed (no failures), Bearer keys, OAuth token.
    expect(bedrock.authFailures).toEqual([]);
    expect(cohere.requests.some((r) => r.url.includes('endpoint=embed'))).toBe(true);
    expect(vertex.requests.some((r) => r.url.includes('pageToken='))).toBe(true);
  });
});
