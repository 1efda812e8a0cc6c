import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, Receiver } from '@slack/bolt';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { LogThrottle } from '../http/log-throttle.js';
import { type Route, readBody, refuse, sendJson, sendText } from '../http/server.js';
import { slack } from '../integrations/slack.js';
import type { Logger } from '../log.js';
import { labelledChildren } from '../metrics.js';
import { newRequestId } from '../request-scope.js';
import { finishedWithin, within } from '../time/deadline.js';
import { parseSlackBody } from './parse-slack-body.js';
import { checkSlackHeaders, verifySlackRequest } from './verify-request.js';

/**
 * The largest body taken on `/slack/events`; bigger ones get `413` before they are read in full.
 * Slash commands are under 8 KiB (the text is at most 4,000 characters); the biggest requests
 * Slack sends are interactive payloads carrying a view's state (a modal of up to 100 blocks with
 * its inputs' values, or a message's blocks with a button's action), tens of KiB at most. 256 KiB
 * leaves ample room for those, and with the listener's 16 MiB body budget it bounds the memory
 * unsigned clients can make opsbot hold.
 */
export const MAX_SLACK_BODY_BYTES = 256 * 1024;
/** If nothing acknowledged a request by then, answer 200 so Slack does not show a timeout. */
const ACK_FALLBACK_MS = 2_500;
/**
 * How often the requests not yet acknowledged are looked at: one timer for all of them rather than
 * one per request, so a request is acked by the fallback between 2.5 and 2.75 s, inside Slack's 3 s.
 */
const ACK_SWEEP_MS = 250;
/** A replay check that has not answered by then lets the request through (fail-open). */
const REPLAY_CHECK_TIMEOUT_MS = 100;

export interface SlackHttpReceiverDeps {
  credentials: Pick<CredentialProvider, 'inboundCandidates' | 'refreshAfterAuthFailure'>;
  clock: Clock;
  log: Logger;
  registry?: Registry;
  maxBodyBytes?: number;
  /**
   * Records the signature of a verified request and resolves true when it was already recorded
   * (within Slack's five-minute window, so remembered a little longer): a replay. Wired to the
   * shared State's dedupe store so that replicas refuse each other's replays. Without it, replays
   * within the window are not detected.
   */
  seen?: (signature: string) => boolean | Promise<boolean>;
  /** Told of each request refused as unsigned, badly signed or stale (nothing of the request is passed). */
  onRefused?: () => void;
}

/** What the receiver hands Bolt along with each event (`context.requestId`, `context.signedWith`). */
export interface ReceiverProperties {
  requestId: string;
  /** The version id of the signing secret that verified the request. */
  signedWith: string;
}

/**
 * The Bolt receiver for `POST /slack/events` on opsbot's own HTTP server (health and webhooks
 * share the port). Transport only: the signature headers are checked before any of the body is
 * read, then a bounded body, the signature against the current signing secret (and pending/previous
 * during a rotation, so no restart is needed), the replay check, parse, then Bolt's middleware and
 * listeners. Refusals: 401 unsigned, badly signed, stale or replayed (and the connection closed);
 * 413 oversized; 400 malformed; nothing runs for any of them. A repeat that Slack marks as a retry
 * (`x-slack-retry-num`) is answered 200 without running it again: the first delivery is handled.
 */
export class SlackHttpReceiver implements Receiver {
  readonly #deps: SlackHttpReceiverDeps;
  readonly #requests: Counter<'outcome'> | undefined;
  #app: App | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  /** Requests not acknowledged yet, oldest first (a Set keeps insertion order). */
  readonly #unacked = new Set<Unacked>();
  #sweeping = false;
  readonly #throttle: LogThrottle;
  /** The requests counter's child per outcome, looked up once each (it counts every request). */
  readonly #outcomes: ((labels: { outcome: string }) => { inc(): void }) | undefined;

  constructor(deps: SlackHttpReceiverDeps) {
    this.#deps = deps;
    this.#throttle = new LogThrottle(deps.log);
    this.#requests = deps.registry
      ? new Counter({
          name: 'opsbot_slack_requests_total',
          help: 'Requests on /slack/events by outcome: accepted, too_large, unauthorized, replayed, duplicate_retry, replay_check_failed, malformed, failed',
          labelNames: ['outcome'],
          registers: [deps.registry],
        })
      : undefined;
    this.#outcomes = this.#requests ? labelledChildren(this.#requests) : undefined;
  }

  init(app: App): void {
    this.#app = app;
  }

  /** The HTTP server owns the socket; Bolt's start/stop are no-ops. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  route(): Route {
    return { method: 'POST', path: '/slack/events', handler: (req, res) => this.handle(req, res) };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { log, clock } = this.#deps;
    const timestamp = header(req, 'x-slack-request-timestamp');
    const signature = header(req, 'x-slack-signature');
    // Nothing of the body is read for a request that cannot be from Slack.
    const early = checkSlackHeaders(timestamp, signature, clock.now());
    if (!early.ok) return this.#unauthorized(res, early.reason);
    const raw = await readBody(req, this.#deps.maxBodyBytes ?? MAX_SLACK_BODY_BYTES);
    if (raw === 'too_large') {
      this.#count('too_large');
      return refuse(res, 413, { error: 'payload_too_large' });
    }
    const request = { timestamp, signature, rawBody: raw };
    const { credentials } = this.#deps;
    const verify = () => {
      const candidates = credentials.inboundCandidates(slack.secret);
      const result = verifySlackRequest(
        request,
        candidates.map((c) => c.value.reveal().signingSecret),
        clock.now(),
      );
      return { candidates, result };
    };
    let { candidates, result: verification } = verify();
    const current = candidates[0];
    if (!verification.ok && verification.reason === 'bad_signature' && current) {
      // Slack may already sign with a secret rotated since our last poll: check the source once
      // (at most once per 5 s per version, so forged requests cannot cause a storm), then retry.
      await credentials.refreshAfterAuthFailure('slack', current.versionId);
      ({ candidates, result: verification } = verify());
    }
    if (!verification.ok) return this.#unauthorized(res, verification.reason);
    const replayed = signature ? this.#replayed(signature) : false;
    if (replayed === true || (replayed !== false && (await replayed))) {
      if (header(req, 'x-slack-retry-num') !== undefined) {
        // Slack retrying a delivery we already have: 200 so it stops; the first one runs.
        this.#count('duplicate_retry');
        return sendText(res, 200, '');
      }
      this.#count('replayed');
      this.#throttle.warn('replayed', {}, 'refused a replayed Slack request (its signature was seen before)');
      return refuse(res, 401, { error: 'replayed_request' });
    }
    const parsed = parseSlackBody(raw, header(req, 'content-type'));
    if (!parsed.ok) {
      this.#count('malformed');
      log.warn({ problem: parsed.problem }, 'refused a malformed Slack request');
      return sendJson(res, 400, { error: 'malformed_request', problem: parsed.problem });
    }
    const { body } = parsed;
    if (body.ssl_check !== undefined) return sendText(res, 200, '');
    if (body.type === 'url_verification' && typeof body.challenge === 'string') {
      return sendJson(res, 200, { challenge: body.challenge.slice(0, 200) });
    }
    this.#count('accepted');
    const work = this.#dispatch(body, req, res, {
      requestId: newRequestId(),
      signedWith: candidates[verification.secretIndex]?.versionId ?? 'unknown',
    });
    this.#inFlight.add(work);
    try {
      await work;
    } finally {
      this.#inFlight.delete(work);
    }
  }

  /** Events still being handled (acked, but their handler has not finished). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Waits for handlers still running after their ack, up to `deadlineMs`; true if all finished. */
  async drain(deadlineMs: number): Promise<boolean> {
    if (this.#inFlight.size === 0) return true;
    return finishedWithin(this.#deps.clock, Promise.allSettled([...this.#inFlight]), deadlineMs);
  }

  async #dispatch(
    body: Record<string, unknown>,
    req: IncomingMessage,
    res: ServerResponse,
    properties: ReceiverProperties,
  ): Promise<void> {
    const { log } = this.#deps;
    let acked = false;
    const ack = async (response?: unknown) => {
      if (acked) return;
      acked = true;
      this.#unacked.delete(pending);
      if (response === undefined || response === '') sendText(res, 200, '');
      else if (typeof response === 'string') sendText(res, 200, response);
      else sendJson(res, 200, response);
    };
    const pending: Unacked = { since: this.#deps.clock.now(), requestId: properties.requestId, ack };
    this.#unacked.add(pending);
    this.#sweepSoon();
    const retryNum = Number(header(req, 'x-slack-retry-num'));
    const retryReason = header(req, 'x-slack-retry-reason');
    try {
      if (!this.#app) throw new Error('the Slack receiver was not initialised by Bolt');
      await this.#app.processEvent({
        body,
        ack,
        customProperties: { ...properties },
        ...(Number.isInteger(retryNum) ? { retryNum } : {}),
        ...(retryReason ? { retryReason } : {}),
      });
      await ack();
    } catch (error) {
      this.#count('failed');
      log.error({ err: error, requestId: properties.requestId }, 'processing a Slack request failed');
      if (!acked) {
        acked = true;
        sendJson(res, 500, { error: 'internal_error', requestId: properties.requestId });
      }
    } finally {
      this.#unacked.delete(pending);
    }
  }

  /** Arms the one fallback timer while requests wait for their ack. */
  #sweepSoon(): void {
    if (this.#sweeping) return;
    this.#sweeping = true;
    this.#deps.clock.schedule(() => {
      this.#sweeping = false;
      this.#sweep();
    }, ACK_SWEEP_MS);
  }

  /** Acks (200, empty) every request that has waited {@link ACK_FALLBACK_MS}. */
  #sweep(): void {
    const due = this.#deps.clock.now() - ACK_FALLBACK_MS;
    for (const pending of this.#unacked) {
      if (pending.since > due) break;
      this.#unacked.delete(pending);
      this.#deps.log.warn(
        { requestId: pending.requestId },
        'a Slack request was not acknowledged in time; acking it',
      );
      void pending.ack();
    }
    if (this.#unacked.size > 0) this.#sweepSoon();
  }

  #unauthorized(res: ServerResponse, reason: string): void {
    this.#count('unauthorized');
    this.#deps.onRefused?.();
    this.#throttle.warn(
      `unauthorized:${reason}`,
      { reason },
      'refused a Slack request that failed verification',
    );
    refuse(res, 401, { error: 'invalid_request_signature' });
  }

  /**
   * Whether this verified signature was seen before. Fails open: a dedupe store that fails or
   * does not answer within 100 ms lets the request through (logged, counted), because the
   * signature and the five-minute window already stand between a forger and opsbot, while failing
   * closed would turn a store hiccup into Slack being down for everyone.
   */
  #replayed(signature: string): boolean | Promise<boolean> {
    const { seen, clock } = this.#deps;
    if (!seen) return false;
    let answer: boolean | Promise<boolean>;
    try {
      answer = seen(signature);
    } catch (error) {
      this.#replayCheckFailed(error);
      return false;
    }
    // Memory answered (a single process, or a signature this replica has seen): no wait, no timer.
    if (typeof answer === 'boolean') return answer;
    return within(
      clock,
      answer,
      REPLAY_CHECK_TIMEOUT_MS,
      () => new Error(`no answer within ${REPLAY_CHECK_TIMEOUT_MS} ms`),
    ).catch((error: unknown) => {
      this.#replayCheckFailed(error);
      return false;
    });
  }

  #replayCheckFailed(error: unknown): void {
    this.#count('replay_check_failed');
    this.#throttle.warn(
      'replay_check_failed',
      { err: error },
      'replay check failed (the dedupe store did not answer); letting the Slack request through',
    );
  }

  /** Counts a request by outcome. */
  #count(outcome: string): void {
    this.#outcomes?.({ outcome }).inc();
  }
}

/** A request handed to Bolt and not acknowledged yet. */
interface Unacked {
  since: number;
  requestId: string;
  ack: () => Promise<void>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
