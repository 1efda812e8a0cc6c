import type { AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { OwnSecretHit } from '../leaks/own-secrets.js';
import { type LeakFinding, scanText } from '../leaks/scan.js';
import type { Logger } from '../log.js';
import { Counter, Histogram, type Registry } from '../metrics.js';
import type { RequestScope } from '../request-scope.js';
import type { MessageWatcher, WatchedMessage } from '../slack/message-watcher.js';
import type { DedupeStore } from '../store/state.js';
import { NoticeLimit } from './notice-limit.js';
import type { OwnValues } from './own-values.js';
import {
  authorWarning,
  type LeakRotationOutcome,
  type LeakSummary,
  rotationFollowUp,
  securityReport,
} from './render.js';

/**
 * Starts an emergency rotation of one of opsbot's own secrets (its catalog name, `datadog`) because
 * its value was posted in a channel, and resolves once the leaked value no longer works (or the
 * rotation stopped). The app provides it (`/opsbot rotate <secret> --emergency`'s machinery); it
 * must audit its own intent and never reject with a value in its error.
 */
export type RotateLeaked = (secretName: string, options: { reason: string }) => Promise<LeakRotationOutcome>;

/** Until the app wires a rotation: say what a person must do. */
/**
 * When opsbot cannot start the rotation itself: what a person does now, in the source opsbot reads
 * (`source` is OPSBOT_SECRET_SOURCE; `aws` here means rotation is not wired, e.g. in a test).
 */
export function rotationUnavailable(source: string): RotateLeaked {
  return async (secretName) => ({
    status: 'unavailable',
    message:
      source === 'vault'
        ? `opsbot does not rotate secrets in Vault: make a new value at the vendor, write it as a new KV version of ${secretName}, then destroy the leaked version (vault kv destroy -versions=<n>) so opsbot never accepts it again, not even in its grace`
        : source === 'aws'
          ? `automatic rotation is not available: rotate ${secretName} now with /opsbot rotate ${secretName} --emergency`
          : `make a new value at the vendor, put it in the ${source === 'file' ? 'secret file (npm run secrets)' : 'environment'} and restart opsbot`,
  });
}

export interface LeakWatchDeps {
  own: OwnValues;
  slack: Pick<SlackApi, 'postMessage' | 'permalink'>;
  dedupe: DedupeStore;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  /** `security.channel`; without it the admins get the reports by DM. */
  securityChannel?: string;
  admins: readonly string[];
  rotateLeaked: RotateLeaked;
}

/** A message is handled once however often it is delivered (Slack retries, replicas): remembered a day. */
const HANDLED_TTL_MS = 24 * 60 * 60_000;
/** How long the audit record of a leak may take before the rotation starts anyway. */
const AUDIT_DEADLINE_MS = 3_000;
/** The kind of one of opsbot's own values that no rule recognised (a bare webhook secret). */
const OWN_KIND = { kind: 'opsbot-secret', title: "one of opsbot's own secrets" };

/**
 * The leak watch (README, "Leaked secrets"): every person's message in a channel opsbot is in is
 * scanned (src/leaks/) for credentials and for opsbot's own values (by keyed digest). On a hit,
 * once per message (State's dedupe store) and at most a few notices per author and channel a
 * minute: the author gets a DM naming the kinds and where, the security channel (or the admins)
 * a report, the audit trail a `leak:detected` record; an own value starts an emergency rotation of
 * that secret, whose outcome follows in the report's thread. Never the value, never the text.
 */
export class LeakWatch implements MessageWatcher {
  readonly name = 'leak-watch';
  readonly #deps: LeakWatchDeps;
  readonly #limit: NoticeLimit;
  readonly #detected: Counter<'kind'>;
  readonly #warned: Histogram<string>;
  readonly #running = new Set<Promise<void>>();

  constructor(deps: LeakWatchDeps) {
    this.#deps = deps;
    this.#limit = new NoticeLimit(deps.dedupe, deps.clock);
    this.#detected = new Counter({
      name: 'opsbot_leaks_detected_total',
      help: 'Credentials found in channel messages, by kind (opsbot-secret: one of its own no rule named)',
      labelNames: ['kind'],
      registers: [deps.metrics],
    });
    this.#warned = new Histogram({
      name: 'opsbot_leak_warning_seconds',
      help: "Seconds from a leaking message's event reaching opsbot to its author's warning being posted",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [deps.metrics],
    });
  }

  async onMessage(message: WatchedMessage, scope: RequestScope): Promise<void> {
    const found = this.#scan(message);
    if (!found) return;
    const { channel, ts, editedTs } = message;
    if (
      !(await this.#deps.dedupe.putIfAbsent(
        `leak-message:${channel}:${ts}:${editedTs ?? ''}`,
        HANDLED_TTL_MS,
      ))
    )
      return;
    const { findings, own } = found;
    const kinds = kindsOf(findings, own);
    for (const kind of kinds.keys()) this.#detected.inc({ kind });
    const ownSecrets = [...new Set(own.map((h) => h.secretName))];
    const log = this.#deps.log.child({ requestId: scope.requestId });
    // A burst is reported a few times a minute; one of opsbot's own values always is.
    const notify = ownSecrets.length > 0 || (await this.#limit.take(message.user, channel));
    const audited = this.#deps.audit
      .record(
        {
          action: 'leak:detected',
          outcome: 'success',
          actor: 'opsbot',
          details: {
            channel,
            author: message.user,
            ts,
            edited: editedTs !== undefined,
            kinds: [...kinds.keys()].join(','),
            own: ownSecrets.join(',') || undefined,
            ownFields: own.map((h) => `${h.secretName}.${h.field}`).join(',') || undefined,
            notified: notify,
          },
        },
        AUDIT_DEADLINE_MS,
      )
      .then(
        () => true,
        (error: unknown) => {
          log.error({ err: error, channel, ts }, 'the leak could not be audited');
          return false;
        },
      );
    log.warn(
      { channel, author: message.user, ts, kinds: [...kinds.keys()], own: ownSecrets, notified: notify },
      'a credential was posted in a channel',
    );
    const summary: LeakSummary = {
      channel,
      author: message.user,
      ts,
      titles: [...kinds.values()],
      ownSecrets,
      edited: editedTs !== undefined,
    };
    let reports: Array<{ channel: string; ts: string }> = [];
    if (notify) {
      const permalink = await this.#deps.slack.permalink({ channel, ts }).catch(() => undefined);
      if (permalink) summary.permalink = permalink;
      await this.#warnAuthor(summary, message.receivedAt, log);
      reports = await this.#report(securityReport(summary), undefined, log);
    }
    await audited;
    for (const secretName of ownSecrets) {
      const leaked = own.filter((h) => h.secretName === secretName);
      this.#track(this.#rotate(secretName, leaked, summary, reports, log));
    }
  }

  /** Resolves once every rotation started so far has been followed up (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Findings and own values in the message; for an edit, only those its previous text did not have. */
  #scan(message: WatchedMessage): { findings: LeakFinding[]; own: OwnSecretHit[] } | undefined {
    const { text, previousText } = message;
    const isNew = (s: { start: number; end: number }) =>
      previousText === undefined || !previousText.includes(text.slice(s.start, s.end));
    const scanned = scanText(text);
    const own = this.#deps.own.find(text, scanned).filter(isNew);
    const findings = scanned.filter(isNew);
    return findings.length > 0 || own.length > 0 ? { findings, own } : undefined;
  }

  async #warnAuthor(summary: LeakSummary, receivedAt: number, log: Logger): Promise<void> {
    try {
      await this.#deps.slack.postMessage({ channel: summary.author, text: authorWarning(summary) });
      this.#warned.observe(Math.max(0, this.#deps.clock.now() - receivedAt) / 1_000);
    } catch (error) {
      log.error({ err: error, author: summary.author }, "could not warn a leak's author");
    }
  }

  /** Posts to the security channel, else to each admin; a thread reply when `threads` are given. */
  async #report(
    text: string,
    threads: Array<{ channel: string; ts: string }> | undefined,
    log: Logger,
  ): Promise<Array<{ channel: string; ts: string }>> {
    const { securityChannel, admins } = this.#deps;
    const targets =
      threads ?? (securityChannel ? [{ channel: securityChannel }] : admins.map((a) => ({ channel: a })));
    if (targets.length === 0)
      log.warn('a leak was found but there is no security channel and no admin to tell');
    const posted: Array<{ channel: string; ts: string }> = [];
    for (const target of targets) {
      try {
        posted.push(
          await this.#deps.slack.postMessage({
            channel: target.channel,
            text,
            ...('ts' in target ? { threadTs: target.ts } : {}),
          }),
        );
      } catch (error) {
        log.error({ err: error, channel: target.channel }, 'could not post a leak report');
      }
    }
    return posted;
  }

  async #rotate(
    secretName: string,
    leaked: readonly OwnSecretHit[],
    summary: LeakSummary,
    reports: Array<{ channel: string; ts: string }>,
    log: Logger,
  ): Promise<void> {
    const reason = `its value was posted in channel ${summary.channel} by ${summary.author} (message ${summary.ts})`;
    let outcome: LeakRotationOutcome;
    try {
      outcome = await this.#deps.rotateLeaked(secretName, { reason });
    } catch (error) {
      log.error({ err: error, secret: secretName }, 'the emergency rotation of a leaked secret failed');
      outcome = {
        status: 'failed',
        message: `rotate it now with /opsbot rotate ${secretName} --emergency (the logs say why it stopped)`,
      };
    }
    if (outcome.status === 'rotated') outcome = this.#unchangedByRotation(secretName, leaked, outcome);
    this.#deps.audit.write({
      action: 'leak:rotation',
      outcome: outcome.status === 'rotated' ? 'success' : 'error',
      actor: 'opsbot',
      details: { secret: secretName, status: outcome.status, channel: summary.channel, ts: summary.ts },
    });
    await this.#report(rotationFollowUp(secretName, outcome), reports.length > 0 ? reports : undefined, log);
  }

  /**
   * A rotation makes only the values it can (a Slack bot token, Datadog's keys); a leaked field a
   * person makes (a signing secret, an app token) is still current afterwards: say so, and what to do.
   */
  #unchangedByRotation(
    secretName: string,
    leaked: readonly OwnSecretHit[],
    outcome: LeakRotationOutcome,
  ): LeakRotationOutcome {
    const unchanged = [
      ...new Set(
        leaked.filter((h) => this.#deps.own.stillAccepted(secretName, h.digest)).map((h) => h.field),
      ),
    ];
    if (unchanged.length === 0) return outcome;
    return {
      status: 'unchanged',
      message: `${outcome.message}. But the leaked ${unchanged.join(' and ')} is the same in the new version: the rotation cannot make it (a person does). Regenerate it at the vendor, put the new value as AWSPENDING, then run /opsbot rotate ${secretName} --emergency`,
    };
  }

  #track(work: Promise<void>): void {
    const tracked = work.finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }
}

/** Each kind found, once, with its title: the rules' findings, then own values no rule named. */
function kindsOf(findings: readonly LeakFinding[], own: readonly OwnSecretHit[]): Map<string, string> {
  const kinds = new Map(findings.map((f) => [f.kind, f.title]));
  const unnamed = own.some((h) => !findings.some((f) => f.start < h.end && h.start < f.end));
  if (unnamed) kinds.set(OWN_KIND.kind, OWN_KIND.title);
  return kinds;
}
