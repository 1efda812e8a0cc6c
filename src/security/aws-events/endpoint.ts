import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditTrail } from '../../audit/sink.js';
import type { Clock } from '../../clock.js';
import type { Component } from '../../component.js';
import type { SecretSourceKind } from '../../config.js';
import type { CredentialProvider } from '../../credentials/provider.js';
import { verifyInboundSecret } from '../../credentials/verify-inbound.js';
import { LogThrottle } from '../../http/log-throttle.js';
import { type Route, readBody, refuse, sendJson } from '../../http/server.js';
import type { Logger } from '../../log.js';
import { Counter, type Registry } from '../../metrics.js';
import type { MessageRefStore } from '../../store/state.js';
import { finishedWithin } from '../../time/deadline.js';
import type { SecurityConfig } from '../config.js';
import type { SecurityReporter } from '../detection.js';
import { AWS_EVENTS_KEY_HEADER_NAME, eventsSecret } from './events-secret.js';
import { type ParsedBody, parseEventsBody } from './parse-body.js';
import { isExpected, ownSecretNamed, secretAccessDetection } from './secret-access.js';
import { type SecretCall, WATCHED_CALLS } from './secret-call.js';

export { AWS_EVENTS_KEY_HEADER_NAME };

export const AWS_EVENTS_PATH = '/webhooks/aws-events';
/** As Node reads request headers: lower-case. */
export const AWS_EVENTS_KEY_HEADER = AWS_EVENTS_KEY_HEADER_NAME.toLowerCase();
/** The largest body taken; bigger ones get `413` before they are read in full. */
export const MAX_AWS_EVENTS_BODY_BYTES = 256 * 1024;
/** How long an event id is remembered: EventBridge retries for at most 24 hours. */
export const AWS_EVENT_DEDUPE_MS = 7 * 24 * 60 * 60 * 1000;
/** A claim left `pending` this long belongs to a request that will not finish (its replica died). */
const PENDING_TAKEOVER_MS = 30_000;

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
/** The audit action of a stored call on one of opsbot's secrets. */
export const SECRET_ACCESS_ACTION = 'security:secret_access';

export interface AwsEventsDeps {
  /** Reads the `events` secret (its `apiKey` checks the header). */
  provider: Pick<
    CredentialProvider,
    | 'inboundCandidates'
    | 'inboundField'
    | 'isLoaded'
    | 'isConfigured'
    | 'refreshAfterAuthFailure'
    | 'checkNow'
  >;
  /** Each event's claim (pending, stored or failed) under `aws-event:<id>`. */
  state: { messages: Pick<MessageRefStore, 'putIfAbsent' | 'compareAndSet'> };
  audit: Pick<AuditTrail, 'record'>;
  reporter: SecurityReporter;
  security: SecurityConfig;
  /** opsbot's secrets, full names with the prefix (`opsbot/slack`). */
  secretNames: readonly string[];
  /** With `vault`, the endpoint also takes Vault audit-device entries. */
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
 * `POST /webhooks/aws-events` (README.md, "Security reviews and detections"): EventBridge's API
 * destination sends CloudTrail's "AWS API Call via CloudTrail" events for Secrets Manager (and,
 * with the `vault` source, a forwarder sends Vault's audit-device lines). The header
 * `X-Opsbot-Events-Key` is compared in constant time with the `apiKey` of the current, pending and
 * recent previous versions of the `events` secret, before the body is read. A call on one of
 * opsbot's secrets is deduplicated by its id and audited (`security:secret_access`), and only then
 * answered `202`; `503` when it cannot be stored (EventBridge retries 5xx). After the answer, a call
 * that reads or changes a value by a principal not in `security.expectedPrincipals` is reported as
 * a `secretAccess` detection.
 */
export class AwsEventsEndpoint implements Component {
  readonly name = 'aws-events';
  readonly routes: readonly Route[];
  readonly #deps: AwsEventsDeps;
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #received: Counter<'outcome'>;
  readonly #refused: Counter<'reason'>;
  readonly #detections: Counter;
  #saidNotConfigured = false;
  readonly #reporting = new Set<Promise<void>>();

  constructor(deps: AwsEventsDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: this.name });
    this.#throttle = new LogThrottle(this.#log);
    this.routes = [{ method: 'POST', path: AWS_EVENTS_PATH, handler: (req, res) => this.#handle(req, res) }];
    this.#received = new Counter({
      name: 'opsbot_aws_events_received_total',
      help: 'Calls on secrets taken by /webhooks/aws-events, by outcome (stored, duplicate, ignored)',
      labelNames: ['outcome'],
      registers: [deps.metrics],
    });
    this.#refused = new Counter({
      name: 'opsbot_aws_events_refused_total',
      help: '/webhooks/aws-events requests refused, by reason',
      labelNames: ['reason'],
      registers: [deps.metrics],
    });
    this.#detections = new Counter({
      name: 'opsbot_secret_access_detections_total',
      help: 'Calls on opsbot secrets by principals not in security.expectedPrincipals, reported',
      registers: [deps.metrics],
    });
  }

  /** Lets the detections of answered requests reach the reporter, until `deadline` (epoch ms). */
  stop(deadline: number): Promise<boolean> {
    const { clock } = this.#deps;
    return finishedWithin(clock, Promise.all([...this.#reporting]), Math.max(0, deadline - clock.now()));
  }

  /**
   * The header against the current, pending and recent previous `apiKey`. A key none of them
   * matches makes the provider check the source once (rate-limited per version, so forged requests
   * cause no storm), then it is checked again: a key rotated since the last poll must refuse nothing.
   */
  async #verified(presented: string): Promise<boolean> {
    const { provider } = this.#deps;
    if (verifyInboundSecret(provider, eventsSecret.name, presented).ok) return true;
    const current = provider.inboundCandidates(eventsSecret.name)[0];
    if (!current) return false;
    await provider.refreshAfterAuthFailure(eventsSecret.name, current.versionId);
    return verifyInboundSecret(provider, eventsSecret.name, presented).ok;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { provider } = this.#deps;
    const presented = req.headers[AWS_EVENTS_KEY_HEADER];
    if (typeof presented !== 'string' || presented.length === 0) return this.#refuse(res, 401, 'missing_key');
    if (!provider.isLoaded(eventsSecret.name)) {
      // A secret created since start-up is picked up by the first request that needs it.
      await provider.checkNow(eventsSecret.name);
      if (!provider.isLoaded(eventsSecret.name)) {
        if (provider.isConfigured(eventsSecret.name)) {
          this.#refused.inc({ reason: 'not_ready' });
          return refuse(res, 503, { error: 'not_ready', message: 'the events secret is not loaded yet' }, 5);
        }
        if (!this.#saidNotConfigured) {
          this.#saidNotConfigured = true;
          this.#log.warn(
            { secret: eventsSecret.name },
            'POST /webhooks/aws-events was called but the events secret does not exist: every request is refused (401) until it is created ({ "apiKey": "<32+ random characters>" })',
          );
        }
        return this.#refuse(res, 401, 'not_configured');
      }
    }
    if (!(await this.#verified(presented))) return this.#refuse(res, 401, 'bad_key');
    const raw = await readBody(req, MAX_AWS_EVENTS_BODY_BYTES);
    if (raw === 'too_large') return this.#refuse(res, 413, 'payload_too_large');
    const parsed = parseEventsBody(raw.toString('utf8'), {
      vault: this.#deps.source === 'vault',
      kvMount: this.#deps.vaultKvMount ?? 'secret',
      secretNames: this.#deps.secretNames,
      receivedAt: new Date(this.#deps.clock.now()).toISOString(),
    });
    if (!parsed.ok) return this.#refuse(res, 400, parsed.error, { message: parsed.problem });
    await this.#storeAndAnswer(res, parsed);
  }

  async #storeAndAnswer(res: ServerResponse, parsed: Extract<ParsedBody, { ok: true }>): Promise<void> {
    const stored: Stored[] = [];
    let duplicates = 0;
    const relevant = parsed.calls.flatMap((call) => {
      const secret = call.secretName ?? ownSecretNamed(call.secretId, this.#deps.secretNames);
      return secret !== undefined && WATCHED_CALLS.has(call.eventName) ? [{ call, secret }] : [];
    });
    const ignored = parsed.calls.length - relevant.length + parsed.ignored;
    if (ignored > 0) this.#received.inc({ outcome: 'ignored' }, ignored);
    try {
      for (const { call, secret } of relevant) {
        const result = await this.#store(call, secret);
        if (result) stored.push(result);
        else duplicates++;
      }
    } catch (error) {
      this.#log.error(
        { err: error, stored: stored.length },
        'could not store a call on an opsbot secret; answered 503 so EventBridge retries',
      );
      this.#refused.inc({ reason: 'store_failed' });
      this.#afterAnswer(stored);
      return refuse(res, 503, { error: 'store_unavailable' }, 5);
    }
    if (stored.length > 0) this.#received.inc({ outcome: 'stored' }, stored.length);
    if (duplicates > 0) this.#received.inc({ outcome: 'duplicate' }, duplicates);
    const status = stored.length > 0 ? 'accepted' : duplicates > 0 ? 'duplicate' : 'ignored';
    sendJson(res, 202, { status, stored: stored.length });
    this.#afterAnswer(stored);
  }

  /**
   * Claims the event, then writes its audit record; undefined for an event stored before. The
   * claim (a message ref `aws-event:<id>`) is `pending` while this request writes, `stored` after,
   * `failed` when the write failed: EventBridge's retry of a failed event writes it then, instead of
   * being answered as a duplicate with nothing stored. A pending claim older than
   * {@link PENDING_TAKEOVER_MS} (its replica died) is taken over; a newer one answers 503 (retry).
   */
  async #store(call: SecretCall, secret: string): Promise<Stored | undefined> {
    const { security } = this.#deps;
    const claim = await this.#claim(call.id);
    if (claim === 'stored') return undefined;
    if (claim === 'busy') throw new Error(`event ${call.id.slice(0, 80)} is being stored by another request`);
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

  /** Detections go to the reporter after the answer; a reporter failure is logged, never thrown. */
  #afterAnswer(stored: readonly Stored[]): void {
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

  #refuse(res: ServerResponse, status: number, reason: string, extra: Record<string, string> = {}): void {
    this.#refused.inc({ reason });
    this.#throttle.warn(reason, { status }, 'refused a /webhooks/aws-events request');
    refuse(res, status, { error: reason, ...extra });
  }
}

interface Stored {
  call: SecretCall;
  secret: string;
  expected: boolean;
  seq: number;
}

/**
 * The `aws-events` component (the security feature registers it).
 *
 * @example
 * awsEventsComponent({ provider, state, audit, reporter, security: ctx.config.file.security,
 *   secretNames: provider.names().map((n) => provider.secretName(n)), source: 'aws', clock, log, metrics });
 */
export function awsEventsComponent(deps: AwsEventsDeps): AwsEventsEndpoint {
  return new AwsEventsEndpoint(deps);
}
