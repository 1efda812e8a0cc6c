import { describe, expect, it } from 'vitest';
import { UNROUTED_TOPIC } from '../../../src/alerts/routes.js';
import { registerUnroutedGauge, UNROUTED_RECOUNT_MS } from '../../../src/alerts/unrouted-gauge.js';
import { createMetrics } from '../../../src/metrics.js';
import { DONE_RETENTION_MS } from '../../../src/store/limits.js';
import { SqliteDb } from '../../../src/store/sqlite-db.js';
import { createSqliteOutbox } from '../../../src/store/sqlite-outbox.js';

const unrouted = (id: string) => ({
  id,
  topic: UNROUTED_TOPIC,
  payload: '{}',
  summary: { group: '7', kind: 'Triggered', title: 'monitor 7', at: 0 },
  done: true,
});

describe('opsbot_alerts_unrouted_stored', () => {
  it('reports the unrouted alerts the outbox keeps, recounted at most once a minute, none once they expired', async () => {
    let t = Date.UTC(2026, 0, 1);
    const db = new SqliteDb({ path: ':memory:' });
    const outbox = createSqliteOutbox(db, () => t);
    const metrics = createMetrics({ defaultMetrics: false });
    registerUnroutedGauge({ metrics, outbox, clock: { now: () => t } });
    const value = async () =>
      (await metrics.getSingleMetric('opsbot_alerts_unrouted_stored')?.get())?.values[0]?.value;

    expect(await value()).toBe(0);
    await outbox.enqueue(unrouted('u1'));
    await outbox.enqueue(unrouted('u2'));
    await outbox.enqueue({ id: 'routed', topic: 'alerts:C0', payload: '{}' });
    expect(await value()).toBe(0); // counted less than a minute ago
    t += UNROUTED_RECOUNT_MS;
    expect(await value()).toBe(2);
    expect(await metrics.metrics()).toMatch(/^opsbot_alerts_unrouted_stored 2$/m);
    t += DONE_RETENTION_MS;
    expect(await value()).toBe(0);
    db.close();
  });
});
