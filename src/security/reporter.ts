import { createHash } from 'node:crypto';
import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { MessageArgs, SlackApi } from '../integrations/slack-api.js';
import type { Logger } from '../log.js';
import type { DedupeStore, MessageRefStore } from '../store/state.js';
import { WindowLimit } from '../store/window-limit.js';
import type { Detection, SecurityReporter } from './detection.js';
import { detectionMessage, suppressedMessage } from './detections/message.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A detection's key is remembered (reported once) this long. */
export const DETECTION_DEDUPE_MS = 7 * DAY;
/** At most this many messages per rule per hour; the rest are counted in one summary. */
export const PER_RULE_PER_HOUR = 10;

/** Where a detection's message is remembered (the buttons find it again): a digest of its key. */
export function detectionRefKey(key: string): string {
  return `security-detection:${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

export interface SlackSecurityReporterDeps {
  slack: Pick<SlackApi, 'postMessage'>;
  dedupe: DedupeStore;
  messages: Pick<MessageRefStore, 'putIfAbsent'>;
  audit: AuditSink;
  clock: Clock;
  log: Logger;
  /** `security.channel`; without it each admin gets a DM. */
  channel?: string;
  admins: readonly string[];
}

/**
 * The security reporter (README, "Security reviews and detections"): one message per detection to
 * `security.channel` (else each admin's DM), deduplicated by the detection's key for 7 days (State,
 * so every replica agrees), at most 10 messages per rule an hour (the rest counted, then one
 * "N more … suppressed" message), and each detection audited as `security:detected` (rule, key,
 * evidence; never a value).
 */
export class SlackSecurityReporter implements SecurityReporter {
  readonly #d: SlackSecurityReporterDeps;
  /** Suppressed detections per rule in the current hour, and that hour. */
  readonly #suppressed = new Map<string, { hour: number; count: number }>();

  readonly #limit: WindowLimit;

  constructor(deps: SlackSecurityReporterDeps) {
    this.#d = deps;
    this.#limit = new WindowLimit(deps.dedupe, deps.clock, {
      prefix: 'security-rate',
      perWindow: PER_RULE_PER_HOUR,
      windowMs: HOUR,
    });
  }

  async report(detection: Detection): Promise<void> {
    const d = this.#d;
    if (
      !(await d.dedupe.putIfAbsent(`security-detection:${detection.key}`.slice(0, 512), DETECTION_DEDUPE_MS))
    )
      return;
    const now = d.clock.now();
    const hour = Math.floor(now / HOUR);
    await this.flush(now);
    // One of the rule's messages this hour, counted in State (every replica counts the same ones).
    const allowed = await this.#limit.take(detection.rule);
    d.audit.write({
      action: 'security:detected',
      outcome: 'success',
      actor: 'opsbot',
      details: {
        rule: detection.rule,
        key: detection.key.slice(0, 200),
        evidence: detection.evidence.join(',') || undefined,
        subject: detection.actor,
        notified: allowed,
      },
    });
    d.log.warn(
      { rule: detection.rule, key: detection.key, evidence: detection.evidence, notified: allowed },
      'security detection',
    );
    if (!allowed) {
      const held = this.#suppressed.get(detection.rule);
      this.#suppressed.set(detection.rule, { hour, count: (held?.hour === hour ? held.count : 0) + 1 });
      return;
    }
    const posted = await this.#post(detectionMessage(detection));
    const first = posted[0];
    if (first)
      await d.messages
        .putIfAbsent(
          detectionRefKey(detection.key),
          { channel: first.channel, ts: first.ts, data: JSON.stringify(detection) },
          DETECTION_DEDUPE_MS,
        )
        .catch((error: unknown) => d.log.warn({ err: error }, 'could not remember a detection message'));
  }

  /** Posts the summary of each rule's suppressed detections once their hour is over. */
  async flush(now = this.#d.clock.now()): Promise<void> {
    const hour = Math.floor(now / HOUR);
    for (const [rule, held] of this.#suppressed) {
      if (held.hour >= hour) continue;
      this.#suppressed.delete(rule);
      await this.#post(suppressedMessage(rule, held.count, new Date(held.hour * HOUR).toISOString()));
    }
  }

  async #post(message: Omit<MessageArgs, 'channel'>): Promise<Array<{ channel: string; ts: string }>> {
    const d = this.#d;
    const targets = d.channel ? [d.channel] : d.admins.slice(0, 20);
    if (targets.length === 0)
      d.log.warn('a security detection has no security channel and no admin to go to');
    const posted: Array<{ channel: string; ts: string }> = [];
    for (const channel of targets) {
      try {
        posted.push(await d.slack.postMessage({ ...message, channel }));
      } catch (error) {
        d.log.error({ err: error, channel }, 'could not post a security detection');
      }
    }
    return posted;
  }
}
