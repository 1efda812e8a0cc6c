import { randomInt } from 'node:crypto';

/**
 * Datadog's side of the alert webhook, for tests, benchmarks and the console: bodies as Datadog
 * fills in opsbot's template (CONTRACT.md, "Datadog webhook payload"), and a sender that posts them
 * with the custom header and retries as Datadog does (5xx and time-outs only, never 4xx).
 */

export const DATADOG_TRANSITIONS = [
  'Triggered',
  'Re-Triggered',
  'Warn',
  'Re-Warn',
  'No Data',
  'Re-No Data',
  'Recovered',
  'Renotify',
] as const;
export type DatadogTransition = (typeof DATADOG_TRANSITIONS)[number];

/** The body Datadog sends for the contract template: every value a string. */
export type DatadogWebhookBody = Record<
  | 'id'
  | 'monitorId'
  | 'cycleKey'
  | 'transition'
  | 'title'
  | 'message'
  | 'priority'
  | 'scope'
  | 'tags'
  | 'snapshot'
  | 'link'
  | 'date'
  | 'orgId'
  | 'hostname',
  string
>;

export interface AlertSpec {
  monitorId?: number;
  cycleKey?: string;
  transition?: DatadogTransition;
  /** The monitor's name (the title is built from it as Datadog does). */
  name?: string;
  priority?: 1 | 2 | 3 | 4 | 5 | undefined;
  scope?: string;
  tags?: string[];
  /** An image URL, or false for none. */
  snapshot?: string | false;
  /** Epoch ms. */
  at?: number;
  id?: string;
  message?: string;
  hostname?: string;
  orgId?: string;
}

const digits = (n: number) =>
  Array.from({ length: n }, (_, i) => (i === 0 ? randomInt(1, 10) : randomInt(0, 10))).join('');

/** `[P1] [Triggered on {host:web-1}] High CPU on web`, as Datadog titles a monitor event. */
export function datadogTitle(
  transition: DatadogTransition,
  name: string,
  scope: string,
  priority?: number,
): string {
  const on = scope ? ` on {${scope}}` : '';
  return `${priority ? `[P${priority}] ` : ''}[${transition}${on}] ${name}`;
}

/** A realistic body for one notification; ids are fresh unless given. */
export function datadogWebhookBody(spec: AlertSpec = {}): DatadogWebhookBody {
  const id = spec.id ?? digits(19);
  const transition = spec.transition ?? 'Triggered';
  const scope = spec.scope ?? 'host:web-1';
  const name = spec.name ?? 'High CPU on web';
  const at = spec.at ?? Date.now();
  const orgId = spec.orgId ?? '123456';
  const snapshot =
    spec.snapshot === false
      ? ''
      : (spec.snapshot ??
        `https://p.datadoghq.com/snapshot/view/dd-snapshots-prod/org_${orgId}/${new Date(at).toISOString().slice(0, 10)}/${digits(12)}.png`);
  return {
    id,
    monitorId: String(spec.monitorId ?? 1001),
    cycleKey: spec.cycleKey ?? digits(19),
    transition,
    title: datadogTitle(transition, name, scope, spec.priority),
    message:
      spec.message ?? `${name}: CPU above 90% for 5 minutes. Runbook: https://wiki.example.com/runbooks/cpu`,
    priority: spec.priority ? `P${spec.priority}` : '',
    scope,
    tags: (spec.tags ?? ['env:prod', 'monitor', 'service:web']).join(','),
    snapshot,
    link: `https://app.datadoghq.com/event/event?id=${id}`,
    date: String(at),
    orgId,
    hostname: spec.hostname ?? scope.match(/host:([^,]+)/)?.[1] ?? '',
  };
}

/** One alert cycle in order: Triggered, then each of `then`, on one monitor, scope and cycle key. */
export function alertCycle(spec: AlertSpec & { then?: DatadogTransition[] }): DatadogWebhookBody[] {
  const { then = ['Recovered'], ...base } = spec;
  const monitorId = base.monitorId ?? 1001;
  const cycleKey = base.cycleKey ?? digits(19);
  const start = base.at ?? Date.now();
  return [base.transition ?? 'Triggered', ...then].map((transition, i) => {
    const { id: _, ...rest } = base;
    return datadogWebhookBody({
      ...rest,
      ...(i === 0 && base.id ? { id: base.id } : {}),
      monitorId,
      cycleKey,
      transition,
      at: start + i * 60_000,
    });
  });
}

export interface WebhookResult {
  status: number;
  body: string;
  ms: number;
}

const MAX_STORM = 100_000;

/** Posts webhooks to opsbot as Datadog does (JSON, the custom header). */
export class DatadogWebhookSender {
  readonly #url: string;
  readonly #secret: string;
  readonly #timeoutMs: number;

  constructor(options: { url: string; secret: string; timeoutMs?: number }) {
    this.#url = options.url;
    this.#secret = options.secret;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** One request; `secret: null` sends no header. A time-out is status 0. */
  async send(
    body: DatadogWebhookBody | string | Buffer,
    options: { secret?: string | null; headers?: Record<string, string> } = {},
  ): Promise<WebhookResult> {
    const secret = options.secret === undefined ? this.#secret : options.secret;
    const started = performance.now();
    try {
      const res = await fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(secret === null ? {} : { 'x-opsbot-webhook-secret': secret }),
          ...options.headers,
        },
        body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const text = await res.text();
      return { status: res.status, body: text, ms: performance.now() - started };
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError')
        return { status: 0, body: 'timeout', ms: performance.now() - started };
      throw error;
    }
  }

  /** Like Datadog: retries 5xx and time-outs (never 4xx) up to `retries` times. Returns every attempt. */
  async deliver(
    body: DatadogWebhookBody,
    options: { retries?: number; backoffMs?: number } = {},
  ): Promise<WebhookResult[]> {
    const results: WebhookResult[] = [];
    const retries = Math.min(Math.max(options.retries ?? 3, 0), 10);
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, options.backoffMs ?? 1_000));
      const result = await this.send(body);
      results.push(result);
      if (result.status !== 0 && result.status < 500) break;
    }
    return results;
  }

  /**
   * A storm: `count` distinct Triggered alerts on distinct monitors, at most `concurrency` in
   * flight, spread evenly over `durationMs` (0: as fast as possible). Results are in send order.
   */
  async storm(options: {
    count: number;
    concurrency?: number;
    durationMs?: number;
    firstMonitorId?: number;
    tagsFor?: (i: number) => string[];
    priorityFor?: (i: number) => 1 | 2 | 3 | 4 | 5 | undefined;
  }): Promise<{ bodies: DatadogWebhookBody[]; results: WebhookResult[] }> {
    const count = Math.min(Math.max(Math.floor(options.count), 0), MAX_STORM);
    const concurrency = Math.min(Math.max(Math.floor(options.concurrency ?? 32), 1), 256);
    const first = options.firstMonitorId ?? 5_000;
    const bodies = Array.from({ length: count }, (_, i) =>
      datadogWebhookBody({
        monitorId: first + i,
        name: `Storm monitor ${first + i}`,
        tags: options.tagsFor?.(i) ?? ['env:prod', 'monitor'],
        priority: options.priorityFor?.(i),
        snapshot: false,
      }),
    );
    const results: WebhookResult[] = new Array(count);
    const start = performance.now();
    const spacing = count > 0 ? (options.durationMs ?? 0) / count : 0;
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        const due = start + i * spacing - performance.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
        results[i] = await this.send(bodies[i] as DatadogWebhookBody);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return { bodies, results };
  }
}
