import type { Clock } from '../clock.js';
import type { Component } from '../component.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { Logger } from '../log.js';
import { actions, button, context, header, sections } from '../slack/blocks.js';
import type { DedupeStore, LeaseStore } from '../store/state.js';
import { escapeText, inlineCode } from '../text/escape.js';
import { PeriodicPass } from '../time/periodic.js';
import type { SecretRow } from './inventory.js';
import type { SecretRotation } from './service.js';

const DAY = 86_400_000;
/** How often a replica checks whether today's reminder is due. */
export const REMINDER_CHECK_MS = 60 * 60_000;
const LEASE = 'secrets-reminder';

export interface SecretReminderDeps {
  rotation: Pick<SecretRotation, 'inventory' | 'available'>;
  leases: LeaseStore;
  dedupe: DedupeStore;
  /** This replica's name in leases. */
  owner: string;
  slack: Pick<SlackApi, 'postMessage'>;
  clock: Clock;
  log: Logger;
  /** DMed when there is no security channel. */
  admins: readonly string[];
  /** `security.channel`, when the configuration has one. */
  channel?: string;
  checkEveryMs?: number;
}

/**
 * Once a day, tells the admins (or the security channel) which of opsbot's secrets are overdue:
 * not rotated for 90 days, a vendor expiry within 14 days, rotation off on a rotatable secret; with
 * a Rotate button for each one opsbot can rotate (`opsbot:rotate`, checked like the command). One
 * replica at a time checks (a lease), and each day's reminder is sent once (State's dedupe store).
 */
export class SecretReminder implements Component {
  readonly name = 'secrets-reminder';
  readonly #d: SecretReminderDeps;
  readonly #loop: PeriodicPass;

  constructor(deps: SecretReminderDeps) {
    this.#d = deps;
    this.#loop = new PeriodicPass({
      clock: deps.clock,
      everyMs: deps.checkEveryMs ?? REMINDER_CHECK_MS,
      pass: () => this.pass(),
      failed: (error) => deps.log.warn({ err: error }, 'the secrets reminder failed; the next check retries'),
    });
  }

  async start(): Promise<void> {
    this.#loop.start();
  }

  stop(deadline: number): Promise<boolean> {
    return this.#loop.stop(deadline);
  }

  /** One check: true when this replica sent today's reminder. */
  async pass(): Promise<boolean> {
    const d = this.#d;
    if (!d.rotation.available) return false;
    const every = d.checkEveryMs ?? REMINDER_CHECK_MS;
    if (!(await d.leases.acquire(LEASE, d.owner, 2 * every))) return false;
    let due: SecretRow[];
    try {
      due = (await d.rotation.inventory()).filter((r) => r.overdue.length > 0);
    } catch (error) {
      // Let another replica (or this one's next check) try, rather than hold the lease unused.
      await d.leases.release(LEASE, d.owner).catch(() => undefined);
      throw error;
    }
    if (due.length === 0) return false;
    const day = new Date(d.clock.now()).toISOString().slice(0, 10);
    if (!(await d.dedupe.putIfAbsent(`${LEASE}:${day}`, 2 * DAY))) return false;
    const message = reminderMessage(due);
    const to = d.channel ? [d.channel] : d.admins;
    let sent = 0;
    for (const channel of to.slice(0, 20)) {
      try {
        await d.slack.postMessage({ channel, ...message });
        sent += 1;
      } catch (error) {
        d.log.warn({ err: error, channel }, 'could not send the secrets reminder');
      }
    }
    if (sent === 0) {
      d.log.error(
        { secrets: due.map((r) => r.short) },
        "today's secrets reminder reached nobody; the next is tomorrow's",
      );
      return false;
    }
    d.log.info({ secrets: due.map((r) => r.short), to: sent }, 'sent the secrets reminder');
    return true;
  }
}

/** The reminder: one line per secret that needs attention, a Rotate button for each rotatable one. */
export function reminderMessage(due: readonly SecretRow[]) {
  const lines = due.map(
    (r) => `• *${escapeText(r.short)}* ${inlineCode(r.name)}: ${r.overdue.map(escapeText).join('; ')}`,
  );
  const title = `${due.length} of opsbot's secrets need attention`;
  const buttons = due
    .filter((r) => r.rotatable && r.status?.rotationEnabled)
    .slice(0, 20)
    .map((r) => button(`Rotate ${r.short}`, 'opsbot:rotate', r.short));
  return {
    text: `${title}\n${lines.join('\n')}`,
    blocks: [
      header(title),
      ...sections(lines, 20),
      ...(buttons.length > 0 ? [actions(buttons.slice(0, 5))] : []),
      context(
        '`/opsbot secrets` shows every secret; `/opsbot rotate <secret>` rotates one. Never a value here.',
      ),
    ],
  };
}
