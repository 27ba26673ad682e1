import { describe, expect, it } from 'vitest';
import { ModelCatalog } from '../../src/gateway/models.js';
import type { ProviderEntry } from '../../src/gateway/provider-table.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { KeyEntry, Provider } from '../../src/providers/provider.js';

describe('ModelCatalog refresh', () => {
  it('keeps the last good upstream list when a later fetch fails', async () => {
    let calls = 0;
    const provider = {
      name: 'co',
      type: 'cohere',
      listModels: async () => {
        calls++;
        if (calls > 1) throw new Error('upstream down');
        return ['command-r-plus'];
      },
    } as unknown as Provider;
    const key = {
      name: 'k',
      value: 'v',
      models: new Set<string>(),
      weight: 1,
      config: {},
    } as unknown as KeyEntry;
    const entry = { name: 'co', provider, keys: [key] } as unknown as ProviderEntry;
    const catalog = new ModelCatalog(silentLogger(), true, 20);
    try {
      catalog.update(new Map([['co', entry]]));
      for (let i = 0; i < 100 && calls < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(calls).toBeGreaterThanOrEqual(3);
      expect(catalog.known('co', 'command-r-plus')).toBe(true);
      expect(catalog.listBody()).toContain('co/command-r-plus');
    } finally {
      catalog.close();
    }
  });
});
