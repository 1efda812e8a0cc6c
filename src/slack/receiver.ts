import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, Receiver } from '@slack/bolt';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { type Route, readBody, sendJson, sendText } from '../http/server.js';
import type { SlackSecret } from '../integrations/slack.js';
import type { Logger } from '../log.js';
import { parseSlackBody } from './parse-slack-body.js';
import { verifySlackRequest } from './verify-request.js';

/** Slack never sends more than this; anything bigger is refused before it is read in full. */
export const MAX_SLACK_BODY_BYTES = 1024 * 1024;
/** If nothing acknowledged a request by then, answer 200 so Slack does not show a timeout. */
const ACK_FALLBACK_MS = 2_500;

export interface SlackHttpReceiverDeps {
  credentials: Pick<CredentialProvider, 'inboundCandidates' | 'refreshAfterAuthFailure'>;
  clock: Clock;
  log: Logger;
  registry?: Registry;
  maxBodyBytes?: number;
}

/** What the receiver hands Bolt along with each event (`context.requestId`, `context.signedWith`). */
export interface ReceiverProperties {
  requestId: string;
  /** The version id of the signing secret that verified the request. */
  signedWith: string;
}

/**
 * The Bolt receiver for `POST /slack/events` on opsbot's own HTTP server (health, metrics and
 * webhooks share the port). Transport only: bounded body, signature check against the current
 * signing secret (and pending/previous during a rotation, so no restart is needed), parse, then
 * Bolt's middleware and listeners. Refusals: 413 oversized, 401 unsigned/badly signed/replayed,
 * 400 malformed; nothing runs for any of them.
 */
export class SlackHttpReceiver implements Receiver {
  readonly #deps: SlackHttpReceiverDeps;
  readonly #requests: Counter<'outcome'> | undefined;
  #app: App | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(deps: SlackHttpReceiverDeps) {
    this.#deps = deps;
    this.#requests = deps.registry
      ? new Counter({
          name: 'opsbot_slack_requests_total',
          help: 'Requests on /slack/events by outcome: accepted, too_large, unauthorized, malformed, failed',
          labelNames: ['outcome'],
          registers: [deps.registry],
        })
      : undefined;
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
    const raw = await readBody(req, this.#deps.maxBodyBytes ?? MAX_SLACK_BODY_BYTES);
    if (raw === 'too_large') {
      this.#count('too_large');
      res.setHeader('connection', 'close');
      return sendJson(res, 413, { error: 'payload_too_large' });
    }
    const request = {
      timestamp: header(req, 'x-slack-request-timestamp'),
      signature: header(req, 'x-slack-signature'),
      rawBody: raw,
    };
    const { credentials } = this.#deps;
    const verify = () => {
      const candidates = credentials.inboundCandidates<SlackSecret>('slack');
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
    if (!verification.ok) {
      this.#count('unauthorized');
      log.warn({ reason: verification.reason }, 'refused a Slack request that failed verification');
      return sendJson(res, 401, { error: 'invalid_request_signature' });
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
      requestId: randomUUID().slice(0, 8),
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
    let cancel = () => {};
    const late = new Promise<false>((resolve) => {
      cancel = this.#deps.clock.schedule(() => resolve(false), deadlineMs);
    });
    const done = Promise.allSettled([...this.#inFlight]).then(() => true as const);
    const result = await Promise.race([done, late]);
    cancel();
    return result;
  }

  async #dispatch(
    body: Record<string, unknown>,
    req: IncomingMessage,
    res: ServerResponse,
    properties: ReceiverProperties,
  ): Promise<void> {
    const { log, clock } = this.#deps;
    let acked = false;
    const ack = async (response?: unknown) => {
      if (acked) return;
      acked = true;
      if (response === undefined || response === '') sendText(res, 200, '');
      else if (typeof response === 'string') sendText(res, 200, response);
      else sendJson(res, 200, response);
    };
    const cancelFallback = clock.schedule(() => {
      if (acked) return;
      log.warn(
        { requestId: properties.requestId },
        'a Slack request was not acknowledged in time; acking it',
      );
      void ack();
    }, ACK_FALLBACK_MS);
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
      cancelFallback();
    }
  }

  #count(outcome: string): void {
    this.#requests?.inc({ outcome });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
