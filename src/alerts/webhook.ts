import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { Component } from '../component.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { verifyInboundSecret } from '../credentials/verify-inbound.js';
import { LogThrottle } from '../http/log-throttle.js';
import { type Route, readBody, refuse, sendJson } from '../http/server.js';
import type { Logger } from '../log.js';
import { Counter, type Registry } from '../metrics.js';
import type { OutboxStore } from '../store/state.js';
import type { QueuedAlert } from './deliver.js';
import { type AlertEvent, alertDedupeKey, parseAlert } from './payload.js';
import { alertSummary } from './report.js';
import { type AlertRoutes, routeAlert, topicFor, UNROUTED_TOPIC } from './routes.js';

/** The largest webhook body taken; bigger ones get `413` before they are read in full. */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;
export const WEBHOOK_PATH = '/webhooks/datadog';
export const WEBHOOK_SECRET_HEADER = 'x-opsbot-webhook-secret';

export interface WebhookDeps {
  credentials: Pick<
    CredentialProvider,
    'inboundCandidates' | 'inboundField' | 'isLoaded' | 'refreshAfterAuthFailure'
  >;
  outbox: Pick<OutboxStore, 'enqueue'>;
  audit: Pick<AuditTrail, 'record'>;
  routes: AlertRoutes;
  /** `OPSBOT_DATADOG_SITE`: an alert's links and graphs are kept only on its hosts. */
  site: string;
  clock: Clock;
  /** The webhook adds its own `component` (a logger that already names one would name two). */
  log: Logger;
  metrics: Registry;
  /** Tells the channel's dispatcher there is new work. */
  stored?: (channel: string) => void | Promise<void>;
  /** Told of each request refused for a missing or wrong secret (nothing of it is passed). */
  onRefused?: () => void;
}

/**
 * `POST /webhooks/datadog` (README.md, "Datadog"). Datadog does not sign webhooks: the custom header
 * `X-Opsbot-Webhook-Secret` is compared in constant time with the `webhookSecret` of the current,
 * pending and recent previous versions of the `datadog` secret, before the body is read. A valid
 * alert is routed, stored in the outbox under its dedupe key and audited, and only then answered
 * `202`; when it cannot be stored the answer is `503`, which Datadog retries (it never retries 4xx,
 * so 4xx is only for what will never be valid).
 */
export class DatadogWebhook implements Component {
  readonly name = 'datadog-webhook';
  readonly routes: readonly Route[];
  readonly #deps: WebhookDeps;
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #received: Counter<'transition' | 'outcome'>;
  readonly #refused: Counter<'reason'>;
  readonly #unroutable: Counter;

  constructor(deps: WebhookDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: this.name });
    this.#throttle = new LogThrottle(this.#log);
    this.routes = [{ method: 'POST', path: WEBHOOK_PATH, handler: (req, res) => this.#handle(req, res) }];
    this.#received = new Counter({
      name: 'opsbot_alerts_received_total',
      help: 'Datadog alerts accepted by the webhook, by transition and outcome (stored, duplicate)',
      labelNames: ['transition', 'outcome'],
      registers: [deps.metrics],
    });
    this.#refused = new Counter({
      name: 'opsbot_webhook_refused_total',
      help: 'Datadog webhook requests refused, by reason',
      labelNames: ['reason'],
      registers: [deps.metrics],
    });
    this.#unroutable = new Counter({
      name: 'opsbot_alerts_unroutable_total',
      help: 'Alerts no route and no alerts.defaultChannel took (kept in the outbox as unrouted)',
      registers: [deps.metrics],
    });
  }

  /**
   * The header checked against the current, pending and recent previous `webhookSecret`. A secret
   * none of them matches makes the provider check Secrets Manager once (at most once per 5 s per
   * version, so forged requests cannot cause a storm), then it is checked again: Datadog may send a
   * secret rotated since the last poll (the rotation function sets it on the webhook before it
   * becomes current), and that switch must refuse nothing.
   */
  async #verified(presented: string): Promise<boolean> {
    const { credentials } = this.#deps;
    if (verifyInboundSecret(credentials, 'datadog', presented).ok) return true;
    const current = credentials.inboundCandidates('datadog')[0];
    if (!current) return false;
    await credentials.refreshAfterAuthFailure('datadog', current.versionId);
    return verifyInboundSecret(credentials, 'datadog', presented).ok;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { credentials } = this.#deps;
    const log = this.#log;
    const presented = req.headers[WEBHOOK_SECRET_HEADER];
    if (typeof presented !== 'string' || presented.length === 0) {
      this.#deps.onRefused?.();
      return this.#refuse(res, 401, 'missing_secret');
    }
    if (!credentials.isLoaded('datadog')) {
      // Not a bad request: opsbot cannot check it yet. Datadog retries 5xx.
      this.#refused.inc({ reason: 'not_ready' });
      return refuse(res, 503, { error: 'not_ready', message: 'the datadog secret is not loaded yet' }, 5);
    }
    if (!(await this.#verified(presented))) {
      this.#deps.onRefused?.();
      return this.#refuse(res, 401, 'bad_secret');
    }
    const raw = await readBody(req, MAX_WEBHOOK_BODY_BYTES);
    if (raw === 'too_large') return this.#refuse(res, 413, 'payload_too_large');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.#refuse(res, 400, 'invalid_json', { message: 'the body is not valid JSON' });
    }
    const parsed = parseAlert(body, this.#deps.clock.now(), { site: this.#deps.site });
    if (!parsed.ok) {
      return this.#refuse(res, 400, 'invalid_payload', {
        field: parsed.field,
        message: `${parsed.field}: ${parsed.problem}`,
      });
    }
    const alert = parsed.alert;
    const channel = routeAlert(this.#deps.routes, alert);
    let added: boolean;
    try {
      added = await this.#store(alert, channel);
    } catch (error) {
      log.error(
        { err: error, monitor: alert.monitorId },
        'could not store a Datadog alert; answered 503 so Datadog retries',
      );
      this.#refused.inc({ reason: 'store_failed' });
      return refuse(res, 503, { error: 'store_unavailable' }, 5);
    }
    this.#received.inc({ transition: alert.transition, outcome: added ? 'stored' : 'duplicate' });
    if (!channel) {
      if (added) this.#unroutable.inc();
      this.#throttle.warn(
        'unroutable',
        { monitor: alert.monitorId, tags: alert.tags.slice(0, 10) },
        'an alert matched no route and alerts.defaultChannel is not set; it is kept as unrouted (see /dd alerts)',
      );
    } else if (added) await this.#deps.stored?.(channel);
    sendJson(res, 202, { status: added ? 'accepted' : 'duplicate' });
  }

  /** Outbox first (the alert is safe), then the audit record; either failing means 503 and a retry. */
  async #store(alert: AlertEvent, channel: string | undefined): Promise<boolean> {
    const queued: QueuedAlert = { alert, channel: channel ?? '' };
    const added = await this.#deps.outbox.enqueue({
      id: alertDedupeKey(alert),
      topic: channel ? topicFor(channel) : UNROUTED_TOPIC,
      payload: JSON.stringify(queued),
      summary: alertSummary(alert),
      // No dispatcher takes an unrouted alert: it is kept as a record, forgotten like done items.
      done: !channel,
    });
    await this.#deps.audit.record({
      action: 'datadog:alert',
      outcome: 'success',
      actor: 'datadog',
      details: {
        monitor: alert.monitorId,
        transition: alert.transition,
        alert: alert.id,
        channel: channel ?? 'unrouted',
        ...(added ? {} : { duplicate: true }),
      },
    });
    return added;
  }

  #refuse(res: ServerResponse, status: number, reason: string, extra: Record<string, string> = {}): void {
    this.#refused.inc({ reason });
    this.#throttle.warn(
      reason,
      { status, ...(extra.field ? { field: extra.field } : {}) },
      'refused a Datadog webhook',
    );
    refuse(res, status, { error: reason, ...extra });
  }
}
