import { describe, expect, it } from 'vitest';
import { accessLogFields } from '../../src/observability/access-fields.js';
import { record } from './fixtures.js';

describe('access-log fields of an inference request', () => {
  it('carries provider, model, virtual key id, status, tokens, attempts and the error reason', () => {
    expect(accessLogFields(record({ attempts: 3, fallbackIndex: 1, status: 200, error: undefined }))).toEqual(
      {
        provider: 'mock',
        model: 'gpt-4o-mini',
        vk: 'team-a',
        upstream_status: 200,
        tokens_in: 10,
        tokens_out: 20,
        attempts: 3,
        fallback: 1,
      },
    );
    const failed = accessLogFields(
      record({ virtualKeyId: undefined, status: 502, fallbackIndex: null, error: 'x'.repeat(500) }),
    )!;
    expect(failed.vk).toBeUndefined();
    expect(failed.fallback).toBeUndefined();
    expect(failed.error!.length).toBe(200);
    expect(accessLogFields(undefined)).toBeUndefined();
  });
});
