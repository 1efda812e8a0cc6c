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

  it('hands its counts over at every read, beside the counter’s own increments and its own collect', async () => {
    const registry = createMetrics({ defaultMetrics: false });
    let collected = 0;
    const counter = new Counter({
      name: 'u_total',
      help: 'u',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        collected++;
      },
    });
    const of = labelledChildren(counter);
    of({ outcome: 'ok' }).inc();
    counter.inc({ outcome: 'ok' });
    expect(await registry.metrics()).toContain('u_total{outcome="ok"} 2');
    of({ outcome: 'ok' }).inc();
    of({ outcome: 'no' }).inc();
    expect(await registry.metrics()).toContain('u_total{outcome="ok"} 3');
    expect(await registry.metrics()).toContain('u_total{outcome="no"} 1');
    expect(collected).toBe(3);
  });
});
