import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Component } from '../../component.js';
import type { CredentialProvider } from '../../credentials/provider.js';
import { verifyInboundSecret } from '../../credentials/verify-inbound.js';
import { LogThrottle } from '../../http/log-throttle.js';
import { type Route, readBody, refuse, sendJson } from '../../http/server.js';
import type { Logger } from '../../log.js';
import { Counter } from '../../metrics.js';
import { AWS_EVENTS_KEY_HEADER_NAME, eventsSecret } from './events-secret.js';
import {
  MAX_AWS_EVENTS_BODY_BYTES,
  SECRET_ACCESS_ACTION,
  SecretCallStore,
  type SecretCallStoreDeps,
} from './store-calls.js';

export { AWS_EVENTS_KEY_HEADER_NAME, SECRET_ACCESS_ACTION };

export const AWS_EVENTS_PATH = '/webhooks/aws-events';
/** As Node reads request headers: lower-case. */
export const AWS_EVENTS_KEY_HEADER = AWS_EVENTS_KEY_HEADER_NAME.toLowerCase();

export interface AwsEventsDeps extends SecretCallStoreDeps {
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
}

/**
 * `POST /webhooks/aws-events` (README.md, "Security reviews and detections"): EventBridge's API
 * destination sends CloudTrail's "AWS API Call via CloudTrail" events for Secrets Manager (and,
 * with the `vault` source, a forwarder sends Vault's audit-device lines). The header
 * `X-Opsbot-Events-Key` is compared in constant time with the `apiKey` of the current, pending and
 * recent previous versions of the `events` secret, before the body is read. A call on one of
 * opsbot's secrets is stored by {@link SecretCallStore} (deduplicated by its id, audited as
 * `security:secret_access`, then reported when its caller is not expected), the same path the
 * events queue's messages take (`queue-consumer.ts`), and only then answered `202`; `503` when it
 * cannot be stored (EventBridge retries 5xx).
 */
export class AwsEventsEndpoint implements Component {
  readonly name = 'aws-events';
  readonly routes: readonly Route[];
  /** The store every events body goes through; the events queue's consumer shares it. */
  readonly calls: SecretCallStore;
  readonly #deps: AwsEventsDeps;
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #refused: Counter<'reason'>;
  #saidNotConfigured = false;

  constructor(deps: AwsEventsDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: this.name });
    this.#throttle = new LogThrottle(this.#log);
    this.calls = new SecretCallStore(deps);
    this.routes = [{ method: 'POST', path: AWS_EVENTS_PATH, handler: (req, res) => this.#handle(req, res) }];
    this.#refused = new Counter({
      name: 'opsbot_aws_events_refused_total',
      help: '/webhooks/aws-events requests refused, by reason',
      labelNames: ['reason'],
      registers: [deps.metrics],
    });
  }

  /** Lets the detections of answered requests reach the reporter, until `deadline` (epoch ms). */
  stop(deadline: number): Promise<boolean> {
    return this.calls.settled(deadline);
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
    const outcome = await this.calls.take(raw.toString('utf8'));
    switch (outcome.kind) {
      case 'taken':
        return sendJson(res, 202, { status: outcome.status, stored: outcome.stored });
      case 'invalid':
        return outcome.error === 'payload_too_large'
          ? this.#refuse(res, 413, outcome.error)
          : this.#refuse(res, 400, outcome.error, { message: outcome.problem });
      case 'store_failed':
        this.#log.error(
          { err: outcome.error, stored: outcome.stored },
          'could not store a call on an opsbot secret; answered 503 so EventBridge retries',
        );
        this.#refused.inc({ reason: 'store_failed' });
        return refuse(res, 503, { error: 'store_unavailable' }, 5);
    }
  }

  #refuse(res: ServerResponse, status: number, reason: string, extra: Record<string, string> = {}): void {
    this.#refused.inc({ reason });
    this.#throttle.warn(reason, { status }, 'refused a /webhooks/aws-events request');
    refuse(res, status, { error: reason, ...extra });
  }
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
