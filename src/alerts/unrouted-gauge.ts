import type { Clock } from '../clock.js';
import { Gauge, type Registry } from '../metrics.js';
import { DONE_RETENTION_MS, MAX_RECENT } from '../store/limits.js';
import type { OutboxStore } from '../store/state.js';
import { UNROUTED_TOPIC } from './routes.js';

/** How often, at most, a scrape recounts the unrouted alerts (a count reads up to 10,000 items). */
export const UNROUTED_RECOUNT_MS = 60_000;

/**
 * `opsbot_alerts_unrouted_stored`: the unrouted alerts the outbox keeps. Each is kept 30 days after
 * it arrived, like any done item, so this stays near 30 days of `opsbot_alerts_unroutable_total`;
 * growing past that means they are not forgotten. Counted by the store (no payload read), up to
 * 10,000, at most once a minute; a count that fails keeps the last value.
 */
export function registerUnroutedGauge(deps: {
  metrics: Registry;
  outbox: Pick<OutboxStore, 'tally'>;
  clock: Pick<Clock, 'now'>;
}): void {
  let last: { at: number; value: number } | undefined;
  new Gauge({
    name: 'opsbot_alerts_unrouted_stored',
    help: 'Unrouted alerts kept in the outbox (each for 30 days after it arrived), counted up to 10000 at most once a minute',
    registers: [deps.metrics],
    async collect() {
      const now = deps.clock.now();
      if (!last || now - last.at >= UNROUTED_RECOUNT_MS) {
        const tally = await deps.outbox
          .tally(UNROUTED_TOPIC, now - DONE_RETENTION_MS, MAX_RECENT)
          .catch(() => undefined);
        if (tally) last = { at: now, value: tally.read };
      }
      if (last) this.set(last.value);
    },
  });
}
