import type { AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { verifyInboundSecret } from '../credentials/verify-inbound.js';
import { LogThrottle } from '../http/log-throttle.js';
import type { Logger } from '../log.js';
import { Counter, type Registry } from '../metrics.js';
import type { OutboxStore } from '../store/state.js';
import type { QueuedAlert } from './deliver.js';
import { type AlertEvent, alertDedupeKey, parseAlert } from './payload.js';
import { alertSummary } from './report.js';
import { INTAKE_TOPIC, topicFor, UNROUTED_TOPIC } from './routes.js';

/** The largest webhook body taken; bigger ones get `413` before they are read in full. */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;
export const WEBHOOK_PATH = '/webhooks/datadog';
export const WEBHOOK_SECRET_HEADER = 'x-opsbot-webhook-secret';

/**
 * Where an accepted alert is stored: the topic of the channel the bot's routes chose, the unrouted
 * record (no route and no default channel took it), or the intake topic, which the bot routes
 * later (the intake function has no routes: routing is the bot's).
 */
export type AlertDestination =
  | { kind: 'channel'; channel: string }
  | { kind: 'unrouted' }
  | { kind: 'intake' };

/** A webhook request as any transport hands it over (node http, a Lambda function URL). */
export interface WebhookRequest {
  /** The `X-Opsbot-Webhook-Secret` header as received; undefined when absent. */
  secret: string | undefined;
  /**
   * The body, asked for only once the secret is accepted: `too_large` past `limit` bytes (the
   * transport reads no further). May reject when the client went away.
   */
  body(limit: number): Promise<Buffer | 'too_large'>;
}

/** What to answer: the status, the JSON body, and for a 503 when Datadog may retry. */
export interface WebhookAnswer {
  status: 202 | 400 | 401 | 413 | 503;
  body: Readonly<Record<string, string>>;
  retryAfterSeconds?: number;
}

export interface WebhookCoreDeps {
  credentials: Pick<
    CredentialProvider,
    'inboundCandidates' | 'inboundField' | 'isLoaded' | 'refreshAfterAuthFailure'
  >;
  outbox: Pick<OutboxStore, 'enqueue'>;
  audit: Pick<AuditTrail, 'record'>;
  /** Where each valid alert goes (the bot's routes, or the intake topic). */
  destination: (alert: AlertEvent) => AlertDestination;
  /** `OPSBOT_DATADOG_SITE`: an alert's links and graphs are kept only on its hosts. */
  site: string;
  clock: Clock;
  /** The core adds `component` (a logger that already names one would name two). */
  log: Logger;
  /** The component its log lines name (`datadog-webhook`, `datadog-intake`). */
  component: string;
  metrics: Registry;
  /**
   * Told of each accepted alert once it is stored and audited (`added`: false for a duplicate), to
   * tell whoever delivers it. A rejection answers 503, so Datadog sends it again.
   */
  stored?: (destination: AlertDestination, added: boolean) => void | Promise<void>;
  /** Told of each request refused for a missing or wrong secret (nothing of it is passed). */
  onRefused?: () => void;
}

/**
 * `POST /webhooks/datadog` after the transport (README.md, "Datadog"), the same for the bot's own
 * listener and for the intake function. Datadog does not sign webhooks: the custom header
 * `X-Opsbot-Webhook-Secret` is compared in constant time with the `webhookSecret` of the current,
 * pending and recent previous versions of the `datadog` secret, before the body is read. A valid
 * alert is stored in the outbox under its dedupe key (so whichever endpoint stores it first wins,
 * and the other answers `duplicate`) and audited, and only then answered `202`; when it cannot be
 * stored the answer is `503`, which Datadog retries (it never retries 4xx, so 4xx is only for what
 * will never be valid).
 */
export class DatadogWebhookCore {
  readonly #deps: WebhookCoreDeps;
  readonly #log: Logger;
  readonly #throttle: LogThrottle;
  readonly #received: Counter<'transition' | 'outcome'>;
  readonly #refused: Counter<'reason'>;
  readonly #unroutable: Counter;

  constructor(deps: WebhookCoreDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: deps.component });
    this.#throttle = new LogThrottle(this.#log);
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

  async handle(request: WebhookRequest): Promise<WebhookAnswer> {
    const { credentials } = this.#deps;
    const presented = request.secret;
    if (typeof presented !== 'string' || presented.length === 0) {
      this.#deps.onRefused?.();
      return this.#refuse(401, 'missing_secret');
    }
    if (!credentials.isLoaded('datadog')) {
      // Not a bad request: opsbot cannot check it yet. Datadog retries 5xx.
      this.#refused.inc({ reason: 'not_ready' });
      return {
        status: 503,
        body: { error: 'not_ready', message: 'the datadog secret is not loaded yet' },
        retryAfterSeconds: 5,
      };
    }
    if (!(await this.#verified(presented))) {
      this.#deps.onRefused?.();
      return this.#refuse(401, 'bad_secret');
    }
    const raw = await request.body(MAX_WEBHOOK_BODY_BYTES);
    if (raw === 'too_large') return this.#refuse(413, 'payload_too_large');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.#refuse(400, 'invalid_json', { message: 'the body is not valid JSON' });
    }
    const parsed = parseAlert(body, this.#deps.clock.now(), { site: this.#deps.site });
    if (!parsed.ok) {
      return this.#refuse(400, 'invalid_payload', {
        field: parsed.field,
        message: `${parsed.field}: ${parsed.problem}`,
      });
    }
    const alert = parsed.alert;
    const destination = this.#deps.destination(alert);
    let added: boolean;
    try {
      added = await this.#store(alert, destination);
      await this.#deps.stored?.(destination, added);
    } catch (error) {
      this.#log.error(
        { err: error, monitor: alert.monitorId },
        'could not store a Datadog alert; answered 503 so Datadog retries',
      );
      this.#refused.inc({ reason: 'store_failed' });
      return { status: 503, body: { error: 'store_unavailable' }, retryAfterSeconds: 5 };
    }
    this.#received.inc({ transition: alert.transition, outcome: added ? 'stored' : 'duplicate' });
    if (destination.kind === 'unrouted') {
      if (added) this.#unroutable.inc();
      this.#throttle.warn(
        'unroutable',
        { monitor: alert.monitorId, tags: alert.tags.slice(0, 10) },
        'an alert matched no route and alerts.defaultChannel is not set; it is kept as unrouted (see /dd alerts)',
      );
    }
    return { status: 202, body: { status: added ? 'accepted' : 'duplicate' } };
  }

  /**
   * The header checked against the current, pending and recent previous `webhookSecret`. A secret
   * none of them matches makes the provider check the secret source once (at most once per 5 s
   * per version, so forged requests cannot cause a storm), then it is checked again: Datadog may
   * send a secret rotated since the last poll (the rotation function sets it on the webhook before
   * it becomes current), and that switch must refuse nothing.
   */
  async #verified(presented: string): Promise<boolean> {
    const { credentials } = this.#deps;
    if (verifyInboundSecret(credentials, 'datadog', presented).ok) return true;
    const current = credentials.inboundCandidates('datadog')[0];
    if (!current) return false;
    await credentials.refreshAfterAuthFailure('datadog', current.versionId);
    return verifyInboundSecret(credentials, 'datadog', presented).ok;
  }

  /** Outbox first (the alert is safe), then the audit record; either failing means 503 and a retry. */
  async #store(alert: AlertEvent, destination: AlertDestination): Promise<boolean> {
    const channel = destination.kind === 'channel' ? destination.channel : '';
    const queued: QueuedAlert = { alert, channel };
    const added = await this.#deps.outbox.enqueue({
      id: alertDedupeKey(alert),
      topic:
        destination.kind === 'channel'
          ? topicFor(channel)
          : destination.kind === 'intake'
            ? INTAKE_TOPIC
            : UNROUTED_TOPIC,
      payload: JSON.stringify(queued),
      summary: alertSummary(alert),
      // No dispatcher takes an unrouted alert: it is kept as a record, forgotten like done items.
      done: destination.kind === 'unrouted',
    });
    await this.#deps.audit.record({
      action: 'datadog:alert',
      outcome: 'success',
      actor: 'datadog',
      details: {
        monitor: alert.monitorId,
        transition: alert.transition,
        alert: alert.id,
        channel: destination.kind === 'channel' ? channel : destination.kind,
        ...(added ? {} : { duplicate: true }),
      },
    });
    return added;
  }

  #refuse(status: 400 | 401 | 413, reason: string, extra: Record<string, string> = {}): WebhookAnswer {
    this.#refused.inc({ reason });
    this.#throttle.warn(
      reason,
      { status, ...(extra.field ? { field: extra.field } : {}) },
      'refused a Datadog webhook',
    );
    return { status, body: { error: reason, ...extra } };
  }
}
