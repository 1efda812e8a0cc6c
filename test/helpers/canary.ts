import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { expect } from 'vitest';

/** Marker every canary secret carries, so a leak is found even if the exact value is unknown. */
export const CANARY_MARK = 'test-canary';

/**
 * A fresh canary secret, e.g. `xoxb-test-canary-3f9a…`. Values are made at run time: nothing
 * secret-looking is ever committed.
 */
export function canary(prefix = 'secret'): string {
  return `${prefix}-${CANARY_MARK}-${randomBytes(12).toString('hex')}`;
}

/** A canary without the marker, for secrets that have no prefix (Datadog keys are bare hex). */
export function bareCanary(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error)
    return `${value.name}: ${value.message}\n${value.stack ?? ''}\n${inspect(value, { depth: 8 })}`;
  try {
    return `${JSON.stringify(value)}\n${inspect(value, { depth: 8 })}`;
  } catch {
    return inspect(value, { depth: 8 });
  }
}

/**
 * Asserts that no canary appears in any of the named places (captured logs, Slack payloads,
 * audit records, error messages): neither the `test-canary` marker nor any of the `secrets` given.
 *
 * @example
 * assertNoCanary({ logs: capture.text(), audit: records, error: caught }, [botToken]);
 */
export function assertNoCanary(places: Record<string, unknown>, secrets: readonly string[] = []): void {
  for (const [where, value] of Object.entries(places)) {
    const text = render(value);
    expect(text.includes(CANARY_MARK), `a canary secret leaked into ${where}`).toBe(false);
    for (const secret of secrets) {
      expect(text.includes(secret), `a secret value leaked into ${where}`).toBe(false);
    }
  }
}
