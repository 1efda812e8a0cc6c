import { describe, expect, it } from 'vitest';
import { productionSources, readSource } from '../helpers/source-tree.js';

/**
 * Libraries that cost seconds or tens of megabytes to load are imported where they are first used
 * (`await import(…)`), never by a static import a production module runs at start-up: a bot
 * without Datadog does not pay for the Datadog client, and one with it loads it before it is ready.
 */
const LAZY = ['@datadog/datadog-api-client'];

/** Static imports and re-exports of `lib` that are not type-only. */
function staticValueImports(source: string, lib: string): string[] {
  const pattern = /^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms;
  return [...source.matchAll(pattern)]
    .filter((m) => m[3] === lib && m[2] === undefined)
    .map((m) => m[0].trim().split('\n')[0] as string);
}

describe('lazy imports', () => {
  const files = productionSources();

  it('scans the production tree', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain('src/integrations/datadog.ts');
  });

  for (const lib of LAZY) {
    it(`${lib} is imported only on first use (type imports aside)`, () => {
      const offenders = files.flatMap((file) =>
        staticValueImports(readSource(file), lib).map((line) => `${file}: ${line}`),
      );
      expect(offenders).toEqual([]);
    });
  }

  it('finds a static value import when there is one (the scan can fail)', () => {
    expect(
      staticValueImports("import { client } from '@datadog/datadog-api-client';\n", LAZY[0] as string),
    ).toHaveLength(1);
    expect(
      staticValueImports("import type { client } from '@datadog/datadog-api-client';\n", LAZY[0] as string),
    ).toHaveLength(0);
  });
});
