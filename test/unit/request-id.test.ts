import { describe, expect, it } from 'vitest';
import { newRequestId } from '../../src/request-scope.js';

describe('newRequestId', () => {
  it('gives 8 hex digits, different each time, across the pool being refilled many times', () => {
    const ids = Array.from({ length: 20_000 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}$/);
    // 32 random bits: among 20,000 ids a repeat has a chance of about 5 %; more than two would mean
    // the pool is being reused.
    expect(ids.length - new Set(ids).size).toBeLessThanOrEqual(2);
    // Every hex digit turns up in every position (bytes are random, not counted up).
    for (let position = 0; position < 8; position++)
      expect(new Set(ids.map((id) => id[position])).size).toBe(16);
  });
});
