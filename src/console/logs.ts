/**
 * `:logs` for the console: the bot's JSON log lines (already redacted by its logger) as one short
 * line each: time, level, message and a few fields, never a stack, hash or ARN. By default the
 * warnings and errors come first, then the recent lines that are not audit records.
 *
 * @example
 * formatLogs(bot.logLines, 'warn 5') // the last 5 warnings and errors
 */

interface Entry {
  /** Pino's numeric level: 30 info, 40 warn, 50 error. */
  rank: number;
  audit: boolean;
  text: string;
}

type Filter = 'ops' | 'warn' | 'error' | 'audit' | 'all';

const USAGE = 'usage: :logs [warn|error|audit|all] [n], e.g. :logs warn or :logs 50';
const RECENT =
  'recent lines (`:logs audit` for the audit records, `:logs all` for everything, `:logs 50` for more):';
const MAX_LINE = 200;
const MAX_FIELDS = 6;
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
/** A level label (`warn`) or pino's number as pino's number; info when unknown. */
function rankOf(level: unknown): number {
  if (typeof level === 'number') return level;
  return LEVELS[String(level) as keyof typeof LEVELS] ?? LEVELS.info;
}
const FILTERS: Record<string, Filter> = {
  warn: 'warn',
  warning: 'warn',
  warnings: 'warn',
  error: 'error',
  errors: 'error',
  audit: 'audit',
  all: 'all',
};
/** Fields shown first, in this order; then any other simple field. */
const FIRST = ['component', 'integration', 'action', 'actor', 'outcome', 'result', 'errorCode', 'channel'];
/** Never shown: said elsewhere on the line, too long to help, or noise. */
const SKIP = new Set([
  'level',
  'time',
  'msg',
  'service',
  'pid',
  'hostname',
  'audit',
  'seq',
  'at',
  'hash',
  'prevHash',
  'arn',
  'credentials',
  'team',
  'stack',
]);
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function formatLogs(lines: readonly string[], arg: string): string {
  if (lines.length === 0) return '(no log lines yet)';
  const parsed = parseArgs(arg);
  if (!parsed) return USAGE;
  const entries = lines.map(parseLine);
  if (!arg.trim()) {
    const problems = entries.filter((e) => e.rank >= LEVELS.warn);
    return [
      problems.length
        ? `warnings and errors (${problems.length}; \`:logs warn\` for more):`
        : 'no warnings or errors so far.',
      ...problems.slice(-5).map((e) => `  ${e.text}`),
      RECENT,
      ...entries
        .filter((e) => !e.audit)
        .slice(-10)
        .map((e) => `  ${e.text}`),
    ].join('\n');
  }
  const chosen = entries.filter((e) => keep(e, parsed.filter)).slice(-parsed.count);
  if (chosen.length === 0) {
    const what = { warn: 'warnings or errors', error: 'errors', audit: 'audit records' }[
      parsed.filter as 'warn'
    ];
    return what ? `no ${what} in the last ${lines.length} log lines.` : '(no log lines yet)';
  }
  return chosen.map((e) => e.text).join('\n');
}

function parseArgs(arg: string): { filter: Filter; count: number } | undefined {
  let filter: Filter = 'ops';
  let count = 20;
  for (const word of arg.trim().toLowerCase().split(/\s+/).filter(Boolean)) {
    if (/^\d{1,4}$/.test(word)) count = Math.min(500, Math.max(1, Number(word)));
    else if (FILTERS[word]) filter = FILTERS[word];
    else return undefined;
  }
  return { filter, count };
}

function keep(entry: Entry, filter: Filter): boolean {
  switch (filter) {
    case 'warn':
      return entry.rank >= LEVELS.warn;
    case 'error':
      return entry.rank >= LEVELS.error;
    case 'audit':
      return entry.audit;
    case 'all':
      return true;
    default:
      return !entry.audit;
  }
}

function parseLine(line: string): Entry {
  let record: Record<string, unknown> | undefined;
  try {
    const value = JSON.parse(line) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value))
      record = value as Record<string, unknown>;
  } catch {
    // not JSON: shown as it is
  }
  if (!record) return { rank: LEVELS.info, audit: false, text: bound(clean(line)) };
  const rank = rankOf(record.level);
  // audit records, and the chain's head logged after them (`auditAnchor`)
  const audit = record.audit === true || 'auditAnchor' in record;
  const label = record.audit === true ? 'AUDIT' : levelName(rank);
  const time = timeOf(record.time);
  const msg = clean(String(record.msg ?? ''));
  const head = `${time} ${label.padEnd(5)} ${audit && typeof record.seq === 'number' ? `#${record.seq} ` : ''}${msg}`;
  const fields = fieldsOf(record, msg);
  return { rank, audit, text: bound(fields.length ? `${head} · ${fields.join(' ')}` : head) };
}

function levelName(rank: number): string {
  const name = Object.entries(LEVELS)
    .filter(([, n]) => n <= rank)
    .at(-1)?.[0];
  return (name ?? 'trace').toUpperCase();
}

function timeOf(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString().slice(11, 19) : '--:--:--';
}

/** `key=value` for the fields worth a glance: the known ones first, the audit details flattened. */
function fieldsOf(record: Record<string, unknown>, msg: string): string[] {
  const flat: Record<string, unknown> = { ...record };
  const details = record.details;
  if (details && typeof details === 'object' && !Array.isArray(details)) {
    for (const [key, value] of Object.entries(details)) if (!(key in flat)) flat[key] = value;
  }
  const keys = [
    ...FIRST.filter((k) => k in flat),
    ...Object.keys(flat).filter((k) => !FIRST.includes(k) && k !== 'err'),
    ...('err' in flat ? ['err'] : []),
  ];
  const out: string[] = [];
  for (const key of keys) {
    if (out.length >= MAX_FIELDS) break;
    if (SKIP.has(key) || (key === 'action' && flat[key] === msg)) continue;
    const value = fieldValue(key, flat[key]);
    if (value !== undefined) out.push(`${key}=${value}`);
  }
  return out;
}

function fieldValue(key: string, value: unknown): string | undefined {
  if (key === 'err' && value && typeof value === 'object') {
    const err = value as { type?: unknown; message?: unknown };
    return clean(`${String(err.type ?? 'Error')}: ${String(err.message ?? '')}`).slice(0, 100);
  }
  if (key === 'auditAnchor' && value && typeof value === 'object') {
    // the whole `seq:hash`: what `/opsbot audit --verify --anchor` takes
    const anchor = value as { seq?: unknown; hash?: unknown };
    return clean(`${String(anchor.seq)}:${String(anchor.hash)}`).slice(0, 90);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string' || value === '') return undefined;
  if (/version(id)?$/i.test(key)) return clean(value).slice(0, 8);
  const text = clean(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function clean(text: string): string {
  return text.replace(CONTROL, '');
}

function bound(text: string): string {
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE - 1)}…` : text;
}
