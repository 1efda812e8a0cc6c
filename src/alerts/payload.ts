import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * A Datadog monitor notification as opsbot's webhook template sends it (README.md, "Datadog",
 * the payload): Datadog substitutes every `$VARIABLE` as a string. What can never be valid
 * (a missing id, an unknown transition, a value of the wrong type) is refused with the field's
 * name; what is merely long is cut, so that a real alert is never refused for its size.
 */

/** `$ALERT_TRANSITION`'s values, as Datadog documents them. */
export const TRANSITIONS = [
  'Triggered',
  'Re-Triggered',
  'Warn',
  'Re-Warn',
  'No Data',
  'Re-No Data',
  'Recovered',
  'Renotify',
] as const;
export type Transition = (typeof TRANSITIONS)[number];

/** Longest texts kept from a notification (characters). */
export const LIMITS = { title: 300, message: 2_000, scope: 500, tag: 200, tags: 50, url: 1_000 } as const;

/** A number Datadog may send as a string (or, from a hand-edited template, as a number). */
const numericId = (what: string, maxDigits: number) =>
  z
    .union([z.string(), z.number().int().nonnegative()], {
      error: `expected ${what} as a string of digits`,
    })
    .transform((v) => String(v).trim())
    .pipe(z.string().regex(new RegExp(`^\\d{1,${maxDigits}}$`), `expected ${what} as a string of digits`));

/** At most `max` UTF-16 units, never half of a surrogate pair. */
function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  const code = value.charCodeAt(max - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/** A string, cut to `max` (the body itself is at most 256 KiB: nothing is refused for its length). */
const text = (max: number) => z.string({ error: 'expected a string' }).transform((v) => cut(v, max));

const optionalText = (max: number) => text(max).optional().default('');

export const webhookBodySchema = z.object({
  id: numericId('the event id ($ID)', 24),
  monitorId: numericId('the monitor id ($ALERT_ID)', 20),
  cycleKey: z
    .union([z.string(), z.number().int().nonnegative()], { error: 'expected $ALERT_CYCLE_KEY as a string' })
    .transform((v) => String(v).trim())
    .pipe(
      z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'expected $ALERT_CYCLE_KEY (letters, digits, - _ . :)'),
    ),
  transition: z.enum(TRANSITIONS, {
    error: `expected one of ${TRANSITIONS.join(', ')} ($ALERT_TRANSITION)`,
  }),
  title: text(LIMITS.title).pipe(z.string().trim().min(1, 'must not be empty')),
  message: optionalText(LIMITS.message),
  priority: z
    .string({ error: 'expected a string' })
    .optional()
    .default('')
    .transform((v) => v.trim())
    .pipe(
      z
        .string()
        .regex(/^(?:[Pp][1-5]|[Nn]one|[Nn]ull|)$/, 'expected P1 to P5 or empty ($ALERT_PRIORITY)')
        .transform((v) => (/^[Pp][1-5]$/.test(v) ? (Number(v.slice(1)) as 1 | 2 | 3 | 4 | 5) : undefined)),
    ),
  scope: optionalText(LIMITS.scope).transform((v) => v.trim()),
  tags: optionalText(256 * 1024).transform(splitTags),
  snapshot: optionalText(256 * 1024),
  link: optionalText(256 * 1024),
  date: z
    .union([z.string(), z.number()], { error: 'expected $DATE as epoch milliseconds' })
    .optional()
    .transform((v) => (v === undefined || String(v).trim() === '' ? undefined : Number(v)))
    .pipe(
      z
        .number({ error: 'expected $DATE as epoch milliseconds' })
        .nonnegative()
        .refine(Number.isInteger, 'expected $DATE as epoch milliseconds')
        .optional(),
    ),
  orgId: z
    .union([z.string(), z.number()], { error: 'expected a string' })
    .optional()
    .transform((v) => (v === undefined ? '' : cut(String(v), 40))),
  hostname: optionalText(255),
});

/** A notification as opsbot keeps it in the outbox and renders it. */
export interface AlertEvent {
  /** `$ID`: Datadog's event id, unique per notification. */
  id: string;
  monitorId: string;
  cycleKey: string;
  transition: Transition;
  title: string;
  message: string;
  priority?: 1 | 2 | 3 | 4 | 5;
  scope: string;
  tags: string[];
  /** Only an https URL is kept. */
  snapshot?: string;
  link?: string;
  /** Epoch ms: when Datadog says it happened, else when opsbot received it. */
  at: number;
  receivedAt: number;
  hostname: string;
}

/** The outcome of reading a webhook body: the alert, or the field that is wrong and why. */
export type ParsedAlert = { ok: true; alert: AlertEvent } | { ok: false; field: string; problem: string };

/** Where alerts come from: links and graphs are kept only on the hosts of this Datadog site. */
export interface ParseOptions {
  /** `OPSBOT_DATADOG_SITE` (`datadoghq.com`, `datadoghq.eu`, `us3.datadoghq.com`…). */
  site: string;
}

/**
 * The window a `$DATE` is believed in: from 2000-01-01 to a day after opsbot received the alert.
 * Outside it (a clock gone wrong, a hand-edited template, `9000000000000000`) the alert is kept and
 * dated when opsbot received it: refusing it would lose it (Datadog never retries a 4xx).
 */
export const DATE_WINDOW = { earliest: Date.UTC(2000, 0, 1), aheadMs: 86_400_000 } as const;

/**
 * The alert, dated when it was received when its date is outside {@link DATE_WINDOW}: for alerts
 * stored before dates were checked, so that one never sorts after every later transition.
 */
export function withSaneDate(alert: AlertEvent): AlertEvent {
  const { at, receivedAt } = alert;
  const sane = (t: unknown): t is number =>
    typeof t === 'number' && Number.isInteger(t) && t >= DATE_WINDOW.earliest;
  if (sane(at) && sane(receivedAt) && at <= receivedAt + DATE_WINDOW.aheadMs) return alert;
  return sane(receivedAt) ? { ...alert, at: receivedAt } : alert;
}

export function parseAlert(
  body: unknown,
  receivedAt: number,
  options: ParseOptions = { site: 'datadoghq.com' },
): ParsedAlert {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return { ok: false, field: '(body)', problem: 'expected a JSON object' };
  const parsed = webhookBodySchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || '(body)';
    const absent =
      issue?.path.length === 1 && (body as Record<string, unknown>)[String(issue.path[0])] === undefined;
    return { ok: false, field, problem: absent ? 'is required' : (issue?.message ?? 'is invalid') };
  }
  const v = parsed.data;
  const snapshot = datadogUrl(v.snapshot, options.site);
  const link = datadogUrl(v.link, options.site);
  const dated =
    v.date !== undefined && v.date >= DATE_WINDOW.earliest && v.date <= receivedAt + DATE_WINDOW.aheadMs;
  return {
    ok: true,
    alert: {
      id: v.id,
      monitorId: v.monitorId,
      cycleKey: v.cycleKey,
      transition: v.transition,
      title: v.title,
      message: v.message,
      ...(v.priority ? { priority: v.priority } : {}),
      scope: v.scope,
      tags: v.tags,
      ...(snapshot ? { snapshot } : {}),
      ...(link ? { link } : {}),
      at: dated ? (v.date as number) : receivedAt,
      receivedAt,
      hostname: v.hostname,
    },
  };
}

/**
 * The dedupe key of one notification: (monitor id, scope, cycle key, transition, event id). Datadog
 * retries a delivery with the same values, so a retry maps to the same key and is stored once.
 */
export function alertDedupeKey(
  a: Pick<AlertEvent, 'monitorId' | 'scope' | 'cycleKey' | 'transition' | 'id'>,
): string {
  return `dd:${digest([a.monitorId, a.scope, a.cycleKey, a.transition, a.id])}`;
}

/** The key of an alert cycle (monitor, scope, cycle key): one root message per cycle. */
export function cycleOf(a: Pick<AlertEvent, 'monitorId' | 'scope' | 'cycleKey'>): string {
  return digest([a.monitorId, a.scope, a.cycleKey]);
}

function digest(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 40);
}

function splitTags(value: string): string[] {
  const tags: string[] = [];
  for (const raw of value.split(',')) {
    const tag = raw.trim();
    if (tag && tag.length <= LIMITS.tag && !tags.includes(tag)) tags.push(tag);
    if (tags.length >= LIMITS.tags) break;
  }
  return tags;
}

/**
 * An https URL on the configured Datadog site (the site itself or one of its subdomains:
 * `app.datadoghq.com`, `p.datadoghq.com` for the site `datadoghq.com`), written plainly: no
 * userinfo, no port, no control character, backslash or character that could break out of a Slack
 * link, the host spelt as it is read. Anything else is dropped, not refused (Datadog never retries
 * a 4xx, and the alert matters more than its link).
 */
export function datadogUrl(value: string, site: string): string | undefined {
  const url = value.trim();
  if (url.length === 0 || url.length > LIMITS.url) return undefined;
  // Printable ASCII only, minus what could end a Slack link or be read as a path by some parsers.
  if (!/^https:\/\/[!#-&(-;=?-[\]-_a-{}~]+$/.test(url)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' || parsed.username || parsed.password || parsed.port) return undefined;
  const host = parsed.hostname;
  const written = url.slice('https://'.length).split(/[/?#]/, 1)[0];
  if (written?.toLowerCase() !== host) return undefined;
  const domain = site.toLowerCase();
  return host === domain || host.endsWith(`.${domain}`) ? url : undefined;
}
