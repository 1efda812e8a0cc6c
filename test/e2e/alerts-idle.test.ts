import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueuedAlert } from '../../src/alerts/deliver.js';
import { alertDedupeKey, parseAlert } from '../../src/alerts/payload.js';
import { alertSummary } from '../../src/alerts/report.js';
import { topicFor } from '../../src/alerts/routes.js';
import { alertCycle } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { State } from '../../src/store/state.js';
import { eventually } from '../helpers/eventually.js';
import { ALERTS_CONFIG } from '../helpers/replicas.js';

/**
 * What an idle dispatcher costs the store, and how an alert another replica stored still arrives:
 * with nothing waiting, no channel polls its outbox (each let go of its lease and sleeps); one read
 * of the work signals stands for them all, and a signal that moves wakes its channel.
 */

const calls = new Map<string, number>();
const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);

/** Counts the outbox's, the leases' and the signals' calls (the dispatcher's whole use of State). */
function counting(state: State): State {
  const wrap = <T extends object>(store: T, prefix: string): T =>
    new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          count(`${prefix}.${String(key)}`);
          return value.apply(target, args);
        };
      },
    });
  return {
    ...state,
    outbox: wrap(state.outbox, 'outbox'),
    leases: wrap(state.leases, 'leases'),
    signals: wrap(state.signals, 'signals'),
    ping: () => state.ping(),
    close: () => state.close(),
  };
}

let bot: SandboxBot;
beforeAll(async () => {
  bot = await startSandboxBot({
    configYaml: ALERTS_CONFIG,
    pollSeconds: 60,
    alerts: { postIntervalMs: 20, updateIntervalMs: 5, pollMs: 50, watchMs: 50, watchMaxMs: 200 },
    wrapState: counting,
  });
});
afterAll(async () => {
  await bot?.stop();
});

const sum = (prefix: string) =>
  [...calls].filter(([name]) => name.startsWith(prefix)).reduce((total, [, n]) => total + n, 0);

describe('an idle dispatcher', () => {
  it('polls no channel: one read of the work signals stands for them all', async () => {
    // The first pass of each channel finds nothing, lets go of its lease and sleeps.
    await new Promise((r) => setTimeout(r, 1_000));
    calls.clear();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sum('outbox.')).toBe(0);
    expect(calls.get('leases.acquire') ?? 0).toBe(0);
    expect(sum('signals.read')).toBeGreaterThan(0);
    // Backed off to watchMaxMs (200 ms) while nothing moved: a handful of reads, not one per 50 ms.
    expect(sum('signals.read')).toBeLessThanOrEqual(12);
  });

  it('delivers an alert another replica stored, once its work signal moves', async () => {
    const [body] = alertCycle({ monitorId: 4242, name: 'Stored elsewhere', tags: ['team:payments'] });
    const parsed = parseAlert(body, Date.now());
    if (!parsed.ok) throw new Error('the fixture alert does not parse');
    const queued: QueuedAlert = { alert: parsed.alert, channel: 'C0PAYMENTS' };
    // As another replica's webhook does: the outbox first, then the signal (this replica is not woken).
    await bot.state.outbox.enqueue({
      id: alertDedupeKey(parsed.alert),
      topic: topicFor('C0PAYMENTS'),
      payload: JSON.stringify(queued),
      summary: alertSummary(parsed.alert),
    });
    await bot.state.signals.bump('C0PAYMENTS');
    await eventually(
      () => bot.slack.messages('C0PAYMENTS').some((m) => (m.text ?? '').includes('Stored elsewhere')),
      'the alert in #payments-alerts',
      10_000,
    );
    expect(bot.slack.messages('C0ALERTS').some((m) => (m.text ?? '').includes('Stored elsewhere'))).toBe(
      false,
    );
  });
});
