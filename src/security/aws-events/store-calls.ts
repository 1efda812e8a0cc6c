import type { AuditTrail } from '../../audit/sink.js';
import type { Clock } from '../../clock.js';
import type { SecretSourceKind } from '../../config.js';
import type { Logger } from '../../log.js';
import { Counter, type Registry } from '../../metrics.js';
import type { MessageRefStore } from '../../store/state.js';
import { finishedWithin } from '../../time/deadline.js';
import type { SecurityConfig } from '../config.js';
import type { SecurityReporter } from '../detection.js';
import { parseEventsBody } from './parse-body.js';
import { isExpected, ownSecretNamed, secretAccessDetection } from './secret-access.js';
import { type SecretCall, WATCHED_CALLS } from './secret-call.js';

/** The largest body taken (EventBridge's and SQS's own limit); bigger ones are refused unread. */
export const MAX_AWS_EVENTS_BODY_BYTES = 256 * 1024;
/** How long an event id is remembered: EventBridge retries for at most 24 hours, SQS keeps a message 14 days at most. */
export const AWS_EVENT_DEDUPE_MS = 7 * 24 * 60 * 60 * 1000;
/** A claim left `pending` this long belongs to a taker that will not finish (its replica died). */
const PENDING_TAKEOVER_MS = 30_000;
/** The audit action of a stored call on one of opsbot's secrets. */
export const SECRET_ACCESS_ACTION = 'security:secret_access';

export interface SecretCallStoreDeps {
  /** Each event's claim (pending, stored or failed) under `aws-event:<id>`. */
  state: { messages: Pick<MessageRefStore, 'putIfAbsent' | 'compareAndSet'> };
  audit: Pick<AuditTrail, 'record'>;
  reporter: SecurityReporter;
  security: SecurityConfig;
  /** opsbot's secrets, full names with the prefix (`opsbot/slack`). */
  secretNames: readonly string[];
  /** With `vault`, bodies may also be Vault audit-device entries. */
  source: SecretSourceKind;
  /** `OPSBOT_VAULT_ROLE`: Vault tokens issued to it are opsbot's own reads. */
  vaultRole?: string;
  /** `OPSBOT_VAULT_KV_MOUNT` (default `secret`): where opsbot's KV paths are. */
  vaultKvMount?: string;
  clock: Clock;
  log: Logger;
  metrics: Registry;
}

/**
 * What became of one events body, in the endpoint's terms: `taken` is its `202` (stored, a
 * duplicate, or nothing about opsbot's secrets), `invalid` its `400`/`413` (the body will never be
 * taken, however often it comes back), `store_failed` its `503` (try the same body again later).
 */
export type TakeOutcome =
  | { kind: 'taken'; status: 'accepted' | 'duplicate' | 'ignored'; stored: number }
  | {
      kind: 'invalid';
      error: 'invalid_json' | 'invalid_payload' | 'payload_too_large';
      /** What was expected, never the body's text. */
      problem: string;
    }
  | { kind: 'store_failed'; error: unknown; stored: number };

interface Stored {
  call: SecretCall;
  secret: string;
  expected: boolean;
  seq: number;
}

/**
 * The one path an events body takes, however it arrived (`POST /webhooks/aws-events`, or a
 * message of the events queue): parsed with {@link parseEventsBody}; each call on one of opsbot's
 * secrets claimed by its event id (so a body delivered twice, or once over each path, is stored
 * once) and audited as `security:secret_access`; then, without waiting, a call by a principal not
 * in `security.expectedPrincipals` goes to the reporter as a `secretAccess` detection.
 */
export class SecretCallStore {
  readonly #deps: SecretCallStoreDeps;
  readonly #log: Logger;
  readonly #received: Counter<'outcome'>;
  readonly #detections: Counter;
  readonly #reporting = new Set<Promise<void>>();

  constructor(deps: SecretCallStoreDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: 'aws-events' });
    this.#received = new Counter({
      name: 'opsbot_aws_events_received_total',
      help: 'Calls on secrets taken from /webhooks/aws-events or the events queue, by outcome (stored, duplicate, ignored)',
      labelNames: ['outcome'],
      registers: [deps.metrics],
    });
    this.#detections = new Counter({
      name: 'opsbot_secret_access_detections_total',
      help: 'Calls on opsbot secrets by principals not in security.expectedPrincipals, reported',
      registers: [deps.metrics],
    });
  }

  /** Takes one body (its text, as EventBridge sent it). Never throws. */
  async take(body: string): Promise<TakeOutcome> {
    if (Buffer.byteLength(body, 'utf8') > MAX_AWS_EVENTS_BODY_BYTES)
      return {
        kind: 'invalid',
        error: 'payload_too_large',
        problem: `the body is larger than ${MAX_AWS_EVENTS_BODY_BYTES} bytes`,
      };
    const parsed = parseEventsBody(body, {
      vault: this.#deps.source === 'vault',
      kvMount: this.#deps.vaultKvMount ?? 'secret',
      secretNames: this.#deps.secretNames,
      receivedAt: new Date(this.#deps.clock.now()).toISOString(),
    });
    if (!parsed.ok) return { kind: 'invalid', error: parsed.error, problem: parsed.problem };
    const relevant = parsed.calls.flatMap((call) => {
      const secret = call.secretName ?? ownSecretNamed(call.secretId, this.#deps.secretNames);
      return secret !== undefined && WATCHED_CALLS.has(call.eventName) ? [{ call, secret }] : [];
    });
    const ignored = parsed.calls.length - relevant.length + parsed.ignored;
    if (ignored > 0) this.#received.inc({ outcome: 'ignored' }, ignored);
    const stored: Stored[] = [];
    let duplicates = 0;
    try {
      for (const { call, secret } of relevant) {
        const result = await this.#store(call, secret);
        if (result) stored.push(result);
        else duplicates++;
      }
    } catch (error) {
      // What was stored before the failure is reported now: the retry finds it stored.
      this.#report(stored);
      return { kind: 'store_failed', error, stored: stored.length };
    }
    if (stored.length > 0) this.#received.inc({ outcome: 'stored' }, stored.length);
    if (duplicates > 0) this.#received.inc({ outcome: 'duplicate' }, duplicates);
    this.#report(stored);
    const status = stored.length > 0 ? 'accepted' : duplicates > 0 ? 'duplicate' : 'ignored';
    return { kind: 'taken', status, stored: stored.length };
  }

  /** Whether the detections handed to the reporter so far were handled by `deadline` (epoch ms). */
  settled(deadline: number): Promise<boolean> {
    const { clock } = this.#deps;
    return finishedWithin(clock, Promise.all([...this.#reporting]), Math.max(0, deadline - clock.now()));
  }

  /**
   * Claims the event, then writes its audit record; undefined for an event stored before. The
   * claim (a message ref `aws-event:<id>`) is `pending` while this taker writes, `stored` after,
   * `failed` when the write failed: a retry of a failed event writes it then, instead of being
   * answered as a duplicate with nothing stored. A pending claim older than
   * {@link PENDING_TAKEOVER_MS} (its replica died) is taken over; a newer one is a store failure
   * (try again later).
   */
  async #store(call: SecretCall, secret: string): Promise<Stored | undefined> {
    const { security } = this.#deps;
    const claim = await this.#claim(call.id);
    if (claim === 'stored') return undefined;
    if (claim === 'busy') throw new Error(`event ${call.id.slice(0, 80)} is being stored by another taker`);
    const expected = isExpected(call, {
      expectedPrincipals: security.expectedPrincipals,
      ...(this.#deps.vaultRole !== undefined ? { vaultRole: this.#deps.vaultRole } : {}),
    });
    let record: { seq: number };
    try {
      record = await this.#record(call, secret, expected);
    } catch (error) {
      await this.#settle(call.id, claim, 'failed').catch(() => undefined);
      throw error;
    }
    await this.#settle(call.id, claim, 'stored');
    return { call, secret, expected, seq: record.seq };
  }

  async #claim(id: string): Promise<{ version: number } | 'stored' | 'busy'> {
    const { messages } = this.#deps.state;
    const key = `aws-event:${id}`;
    const now = this.#deps.clock.now();
    const pending = { channel: '-', ts: '-', data: JSON.stringify({ state: 'pending', at: now }) };
    const put = await messages.putIfAbsent(key, pending, AWS_EVENT_DEDUPE_MS);
    if (put.created) return { version: put.ref.version };
    const held = parseClaim(put.ref.data);
    if (held.state === 'stored') return 'stored';
    if (held.state === 'pending' && now - held.at < PENDING_TAKEOVER_MS) return 'busy';
    const taken = await messages.compareAndSet(key, put.ref.version, pending);
    return taken ? { version: taken.version } : 'busy';
  }

  async #settle(id: string, claim: { version: number }, state: 'stored' | 'failed'): Promise<void> {
    const data = JSON.stringify({ state, at: this.#deps.clock.now() });
    await this.#deps.state.messages.compareAndSet(`aws-event:${id}`, claim.version, {
      channel: '-',
      ts: '-',
      data,
    });
  }

  #record(call: SecretCall, secret: string, expected: boolean) {
    return this.#deps.audit.record({
      action: SECRET_ACCESS_ACTION,
      outcome: 'success',
      actor: call.principal.slice(0, 512),
      details: {
        eventName: call.eventName,
        secret,
        principal: call.principal,
        sessionIssuer: call.sessionIssuer,
        sourceIP: call.sourceIp,
        eventID: call.eventId,
        via: call.via,
        expected,
      },
    });
  }

  /** Detections go to the reporter without the taker waiting; a reporter failure is logged, never thrown. */
  #report(stored: readonly Stored[]): void {
    if (this.#deps.security.detections.secretAccess.off) return;
    for (const { call, secret, expected, seq } of stored) {
      const detection = secretAccessDetection(call, secret, expected, [seq]);
      if (!detection) continue;
      this.#detections.inc();
      const reported = this.#deps.reporter.report(detection).catch((error: unknown) => {
        this.#log.error({ err: error, key: detection.key }, 'could not report a secretAccess detection');
      });
      this.#reporting.add(reported);
      void reported.finally(() => this.#reporting.delete(reported));
    }
  }
}

/** An event's claim as stored: `{ state, at }`. */
function parseClaim(data: string | undefined): { state: string; at: number } {
  try {
    const parsed = JSON.parse(data ?? '{}') as { state?: unknown; at?: unknown };
    return {
      state: typeof parsed.state === 'string' ? parsed.state : 'failed',
      at: typeof parsed.at === 'number' ? parsed.at : 0,
    };
  } catch {
    return { state: 'failed', at: 0 };
  }
}
