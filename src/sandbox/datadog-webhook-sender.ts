import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Datadog's Webhooks integration, simulated: realistic bodies for opsbot's contract template
 * (every `$VARIABLE` substituted as a string) and a sender that posts them to
 * `POST /webhooks/datadog` as Datadog does — JSON, the `X-Opsbot-Webhook-Secret` header, a 15 s
 * time-out, retries on 5xx and time-outs. Used by the console, the benchmarks and the tests; it
 * imports nothing from test/.
 */

/**
 * `$ALERT_TRANSITION`'s values, as Datadog documents them: Datadog's side of the wire, kept apart
 * from opsbot's own list (src/alerts/payload.ts) on purpose, so that one can check the other.
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

/** What one notification is about; everything has a realistic default. */
export interface AlertSpec {
  /** `$ALERT_ID`; a fresh one when absent. */
  monitorId?: number;
  /** `$ALERT_CYCLE_KEY`; a fresh one when absent. */
  cycleKey?: string;
  /** Default `Triggered`. */
  transition?: DatadogTransition;
  /** The monitor's name (the title after the `[...]` prefix); default `High CPU on web`. */
  name?: string;
  /** The monitor's priority; none when absent. */
  priority?: 1 | 2 | 3 | 4 | 5 | undefined;
  /** `$ALERT_SCOPE`; default `host:web-1`; `''` is a simple alert. */
  scope?: string;
  /** `$TAGS`; default `env:prod, monitor, service:web`. */
  tags?: string[];
  /** `$SNAPSHOT`; a realistic graph URL when absent, none when `false`. */
  snapshot?: string | false;
  /** `$DATE` in epoch ms; default now. */
  at?: number;
  /** `$ID`; a fresh one when absent. */
  id?: string;
  /** `$TEXT_ONLY_MSG`. */
  message?: string;
  /** `$HOSTNAME`; default the `host:` tag of the scope, else empty. */
  hostname?: string;
  /** `$ORG_ID`; default `123`. */
  orgId?: string;
}

/** One HTTP attempt. `status` 0: no response (time-out or network error; `body` says which). */
export interface WebhookResult {
  status: number;
  body: string;
  ms: number;
}

/** Largest values the helpers accept. */
const WEBHOOK_BOUNDS = {
  count: 100_000,
  concurrency: 256,
  retries: 10,
  backoffMs: 60_000,
  timeoutMs: 600_000,
  durationMs: 3_600_000,
  /** Bytes of a response body kept in a result. */
  responseBytes: 64 * 1024,
} as const;

const DEFAULT_NAME = 'High CPU on web';
const DEFAULT_SCOPE = 'host:web-1';
const DEFAULT_TAGS: readonly string[] = ['env:prod', 'monitor', 'service:web'];
const DEFAULT_ORG = '123';
/** Datadog's own delivery time-out. */
const DATADOG_TIMEOUT_MS = 15_000;
/** Time between the notifications of one cycle (`alertCycle`). */
const CYCLE_STEP_MS = 5 * 60_000;

// Fresh ids: a random 62-bit start, then counting up, so that no two are equal in one process.
let nextEventId = BigInt(`0x${randomBytes(8).toString('hex')}`) >> 2n;
let nextCycleKey = BigInt(`0x${randomBytes(8).toString('hex')}`) >> 2n;
let nextMonitorId = 10_000_000 + (randomBytes(4).readUInt32BE(0) % 80_000_000);

const freshEventId = (): string => String(nextEventId++);
const freshCycleKey = (): string => String(nextCycleKey++);
const freshMonitorId = (): number => nextMonitorId++;

/** The event title as Datadog builds it: `[P1] [Triggered on {host:web-1}] High CPU on web`. */
function titleFor(
  transition: DatadogTransition,
  scope: string,
  name: string,
  priority: number | undefined,
): string {
  const on = scope ? ` on {${scope}}` : '';
  return `${priority ? `[P${priority}] ` : ''}[${transition}${on}] ${name}`;
}

function messageFor(transition: DatadogTransition, scope: string, name: string): string {
  const where = scope ? ` for ${scope}` : '';
  switch (transition) {
    case 'Recovered':
      return `${name} has recovered${where}. @webhook-opsbot`;
    case 'Warn':
    case 'Re-Warn':
      return `${name} is above the warning threshold${where}. @webhook-opsbot`;
    case 'No Data':
    case 'Re-No Data':
      return `${name} has not reported data${where} in the last 10m. @webhook-opsbot`;
    default:
      return `${name} is above the alert threshold${where}. Runbook: https://wiki.example.com/runbooks/cpu @webhook-opsbot`;
  }
}

function hostOf(scope: string): string {
  for (const part of scope.split(',')) {
    const tag = part.trim();
    if (tag.startsWith('host:')) return tag.slice('host:'.length);
  }
  return '';
}

function snapshotUrl(orgId: string, at: number): string {
  const day = new Date(at).toISOString().slice(0, 10);
  const org = /^\d{1,20}$/.test(orgId) ? orgId : DEFAULT_ORG;
  return `https://p.datadoghq.com/snapshot/view/dd-snapshots-prod/org_${org}/${day}/${randomBytes(20).toString('hex')}.png`;
}

/** A realistic body for one notification; ids are fresh unless given; title built from transition, scope, name and priority as Datadog does. */
export function datadogWebhookBody(spec: AlertSpec = {}): DatadogWebhookBody {
  const transition = spec.transition ?? 'Triggered';
  if (!DATADOG_TRANSITIONS.includes(transition))
    throw new RangeError(`unknown transition: ${String(transition)}`);
  if (spec.priority !== undefined && ![1, 2, 3, 4, 5].includes(spec.priority))
    throw new RangeError(`priority must be 1 to 5: ${String(spec.priority)}`);
  if (spec.monitorId !== undefined && !(Number.isSafeInteger(spec.monitorId) && spec.monitorId >= 0))
    throw new RangeError(`monitorId must be a non-negative integer: ${String(spec.monitorId)}`);
  const at = spec.at ?? Date.now();
  if (!(Number.isSafeInteger(at) && at >= 0))
    throw new RangeError(`at must be epoch milliseconds: ${String(at)}`);
  const id = spec.id ?? freshEventId();
  const scope = spec.scope ?? DEFAULT_SCOPE;
  const name = spec.name ?? DEFAULT_NAME;
  const orgId = spec.orgId ?? DEFAULT_ORG;
  return {
    id,
    monitorId: String(spec.monitorId ?? freshMonitorId()),
    cycleKey: spec.cycleKey ?? freshCycleKey(),
    transition,
    title: titleFor(transition, scope, name, spec.priority),
    message: spec.message ?? messageFor(transition, scope, name),
    priority: spec.priority ? `P${spec.priority}` : '',
    scope,
    tags: (spec.tags ?? DEFAULT_TAGS).join(','),
    snapshot: spec.snapshot === false ? '' : (spec.snapshot ?? snapshotUrl(orgId, at)),
    link: `https://app.datadoghq.com/event/event?id=${encodeURIComponent(id)}`,
    date: String(at),
    orgId,
    hostname: spec.hostname ?? hostOf(scope),
  };
}

/**
 * One alert cycle's notifications in order: Triggered, then each of `after` (default
 * ['Recovered']), same monitorId/scope/cycleKey, fresh event ids, increasing `at` (five minutes
 * apart). `spec.id`, when given, is the Triggered event's id; `spec.transition` is ignored.
 */
export function alertCycle(spec: AlertSpec & { after?: DatadogTransition[] }): DatadogWebhookBody[] {
  const { after = ['Recovered'], ...rest } = spec;
  if (after.length > 1_000) throw new RangeError('at most 1000 transitions after Triggered');
  const monitorId = rest.monitorId ?? freshMonitorId();
  const cycleKey = rest.cycleKey ?? freshCycleKey();
  const start = rest.at ?? Date.now();
  const steps: DatadogTransition[] = ['Triggered', ...after];
  return steps.map((transition, i) =>
    datadogWebhookBody({
      ...rest,
      monitorId,
      cycleKey,
      transition,
      at: start + i * CYCLE_STEP_MS,
      id: i === 0 && rest.id !== undefined ? rest.id : freshEventId(),
    }),
  );
}

function boundedInt(what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${what} must be an integer from ${min} to ${max}: ${String(value)}`);
  return value;
}

/** Reads at most `max` bytes of a response body, then cancels the rest. */
async function readCapped(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= max) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') return `timeout: no response within ${timeoutMs} ms`;
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return `network error: ${code ?? message}`;
}

/** Posts webhooks to opsbot as Datadog does (JSON, the custom header). */
export class DatadogWebhookSender {
  readonly url: string;
  readonly timeoutMs: number;
  // Private, so that neither logging nor inspecting the sender shows the secret.
  readonly #secret: string | undefined;
  readonly #headers: (() => Record<string, string>) | undefined;

  /**
   * `secret`: the `X-Opsbot-Webhook-Secret` value to send; or `headers`: the webhook's custom
   * headers as Datadog holds them, read at each send (so a change in the webhook's configuration,
   * a rotation, changes what is sent: `SimulatedDatadog.webhookSender`).
   */
  constructor(options: {
    url: string;
    secret?: string;
    headers?: () => Record<string, string>;
    timeoutMs?: number;
  }) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('url must be http(s)');
    if (options.headers === undefined && typeof options.secret !== 'string')
      throw new TypeError('secret must be a string');
    this.url = url.href;
    this.#secret = options.secret;
    this.#headers = options.headers;
    this.timeoutMs = boundedInt(
      'timeoutMs',
      options.timeoutMs ?? DATADOG_TIMEOUT_MS,
      1,
      WEBHOOK_BOUNDS.timeoutMs,
    );
  }

  /**
   * One POST. A body object is sent as JSON; a string or Buffer as given (for malformed-body
   * tests). `secret`: another value for the header, or null to leave it out. Never throws for
   * the HTTP outcome: a time-out or network error is status 0.
   */
  async send(
    body: DatadogWebhookBody | string | Buffer,
    options: { secret?: string | null; headers?: Record<string, string> } = {},
  ): Promise<WebhookResult> {
    const configured = this.#configuredHeaders();
    if (options.secret !== undefined) {
      for (const name of Object.keys(configured))
        if (name.toLowerCase() === 'x-opsbot-webhook-secret') delete configured[name];
      if (options.secret !== null) configured['x-opsbot-webhook-secret'] = options.secret;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...configured,
      ...options.headers,
    };
    const payload =
      typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body);
    const started = performance.now();
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await readCapped(response, WEBHOOK_BOUNDS.responseBytes);
      return { status: response.status, body: text, ms: performance.now() - started };
    } catch (error) {
      return { status: 0, body: describeFailure(error, this.timeoutMs), ms: performance.now() - started };
    }
  }

  /** Like Datadog: retries on 5xx and time-outs (never on 4xx), up to `retries` (default 3) times with `backoffMs` (default 1000, tests pass small values) between. Returns every attempt's result. */
  async deliver(
    body: DatadogWebhookBody,
    options: { retries?: number; backoffMs?: number } = {},
  ): Promise<WebhookResult[]> {
    const retries = boundedInt('retries', options.retries ?? 3, 0, WEBHOOK_BOUNDS.retries);
    const backoffMs = boundedInt('backoffMs', options.backoffMs ?? 1_000, 0, WEBHOOK_BOUNDS.backoffMs);
    const results: WebhookResult[] = [];
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0 && backoffMs > 0) await sleep(backoffMs);
      const result = await this.send(body);
      results.push(result);
      const retryable = result.status === 0 || result.status >= 500;
      if (!retryable) break;
    }
    return results;
  }

  /** A storm: `count` distinct Triggered alerts (distinct monitor ids starting at `firstMonitorId` default 5000, tags from `tagsFor(i)` default ['env:prod','monitor']), sent with at most `concurrency` (default 32) in flight, spread evenly over `durationMs` (default 0 = as fast as possible). Returns the bodies sent and each result in order. */
  async storm(options: {
    count: number;
    concurrency?: number;
    durationMs?: number;
    firstMonitorId?: number;
    tagsFor?: (i: number) => string[];
    priorityFor?: (i: number) => 1 | 2 | 3 | 4 | 5 | undefined;
  }): Promise<{ bodies: DatadogWebhookBody[]; results: WebhookResult[] }> {
    const count = boundedInt('count', options.count, 0, WEBHOOK_BOUNDS.count);
    const concurrency = boundedInt('concurrency', options.concurrency ?? 32, 1, WEBHOOK_BOUNDS.concurrency);
    const durationMs = boundedInt('durationMs', options.durationMs ?? 0, 0, WEBHOOK_BOUNDS.durationMs);
    const firstMonitorId = boundedInt(
      'firstMonitorId',
      options.firstMonitorId ?? 5_000,
      0,
      Number.MAX_SAFE_INTEGER - WEBHOOK_BOUNDS.count,
    );
    const tagsFor = options.tagsFor ?? (() => ['env:prod', 'monitor']);
    const at = Date.now();
    const bodies: DatadogWebhookBody[] = [];
    for (let i = 0; i < count; i++) {
      bodies.push(
        datadogWebhookBody({
          monitorId: firstMonitorId + i,
          transition: 'Triggered',
          name: `High CPU on web-${i + 1}`,
          scope: `host:web-${i + 1}`,
          tags: tagsFor(i),
          priority: options.priorityFor?.(i),
          at,
        }),
      );
    }
    const results: WebhookResult[] = new Array(count);
    const interval = count > 0 ? durationMs / count : 0;
    const started = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const due = started + i * interval;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        results[i] = await this.send(bodies[i] as DatadogWebhookBody);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return { bodies, results };
  }

  /** The custom headers sent now: the webhook's configuration, or the fixed secret. */
  #configuredHeaders(): Record<string, string> {
    if (this.#headers) return { ...this.#headers() };
    return this.#secret === undefined ? {} : { 'x-opsbot-webhook-secret': this.#secret };
  }

  /** Never shows the secret. */
  toJSON(): { url: string; timeoutMs: number } {
    return { url: this.url, timeoutMs: this.timeoutMs };
  }
}
