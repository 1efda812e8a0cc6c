import { describe, expect, it } from 'vitest';
import { Counter, createMetrics, labelledChildren } from '../../src/metrics.js';

describe('labelledChildren', () => {
  it('counts each label set apart, as counter.inc(labels) does, reusing one child per set', async () => {
    const registry = createMetrics({ defaultMetrics: false });
    const counter = new Counter({
      name: 't_total',
      help: 't',
      labelNames: ['a', 'b'],
      registers: [registry],
    });
    const of = labelledChildren(counter);
    for (let i = 0; i < 3; i++) of({ a: 'x', b: 'y' }).inc();
    of({ a: 'x', b: 'z' }).inc();
    expect(of({ a: 'x', b: 'y' })).toBe(of({ a: 'x', b: 'y' }));
    const values = (await counter.get()).values.map((v) => [v.labels, v.value]);
    expect(values).toEqual([
      [{ a: 'x', b: 'y' }, 3],
      [{ a: 'x', b: 'z' }, 1],
    ]);
  });
});
