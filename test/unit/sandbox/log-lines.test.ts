import { describe, expect, it } from 'vitest';
import { logLinesDestination } from '../../../src/sandbox/log-lines.js';

describe('logLinesDestination', () => {
  it('keeps each line once, whether written one at a time or several together', () => {
    const lines: string[] = [];
    const destination = logLinesDestination(lines);
    destination.write('{"a":1}\n');
    destination.write('{"b":2}');
    destination.write('{"c":3}\n{"d":4}\n');
    destination.write('\n');
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}']);
  });

  it('keeps the last lines only: past 1,000 it drops all but the last 500', () => {
    const lines: string[] = [];
    const destination = logLinesDestination(lines);
    for (let i = 1; i <= 1_001; i++) destination.write(`${i}\n`);
    expect(lines).toHaveLength(500);
    expect(lines[0]).toBe('502');
    expect(lines.at(-1)).toBe('1001');
  });
});
