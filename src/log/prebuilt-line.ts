import { type Logger, pino } from 'pino';

const {
  lsCacheSym,
  timeSym,
  chindingsSym,
  endSym,
  streamSym,
  hooksSym,
  messageKeySym,
  mixinSym,
  formattersSym,
} = pino.symbols;

type PinoInternals = Record<symbol, unknown>;

/** Not in pino's typings' list of symbols, but exported at run time (pino 9+). */
const msgPrefixSym = (pino.symbols as Record<string, symbol>).msgPrefixSym as symbol;

/**
 * Writes one info line whose fields are already JSON (an object's text, `{…}`), as pino itself
 * would write `log.info(JSON.parse(fieldsJson), msg)` — same level, time, bindings, message key
 * and the logger's `streamWrite` hook (the secret redactor) — without serializing the fields again.
 * For the audit trail's hot path: each record is serialized once, for its hash, and that text is
 * stored and logged. A logger with a mixin, a message prefix or a `log` formatter (which would
 * change the fields) gets the ordinary path. Tested line for line against pino's own output.
 *
 * @example
 * logPrebuilt(log, '{"action":"gh:pr list","seq":7}', 'gh:pr list', { audit: true });
 */
export function logPrebuilt(
  log: Logger,
  fieldsJson: string,
  msg: string,
  extra: Record<string, string | number | boolean> = {},
): void {
  if (!log.isLevelEnabled('info')) return;
  const self = log as unknown as PinoInternals;
  const formatters = self[formattersSym] as { log?: unknown };
  if (self[mixinSym] || self[msgPrefixSym] || formatters.log || !fieldsJson.startsWith('{')) {
    log.info({ ...extra, ...(JSON.parse(fieldsJson) as object) }, msg);
    return;
  }
  const level = (self[lsCacheSym] as Record<number, string>)[30];
  const time = (self[timeSym] as () => string)();
  const head = extraFields(extra);
  const inner = fieldsJson.length > 2 ? `,${fieldsJson.slice(1, -1)}` : '';
  const messageKey = JSON.stringify(self[messageKeySym] as string);
  const line = `${level}${time}${self[chindingsSym] as string}${head}${inner},${messageKey}:${JSON.stringify(msg)}${self[endSym] as string}`;
  const hook = (self[hooksSym] as { streamWrite?: (s: string) => string }).streamWrite;
  (self[streamSym] as { write(s: string): void }).write(hook ? hook(line) : line);
}

/** Each `extra` object's fields as JSON (`,"audit":true`), serialized once per object: callers pass a constant. */
const extraTexts = new WeakMap<object, string>();

function extraFields(extra: Record<string, string | number | boolean>): string {
  let text = extraTexts.get(extra);
  if (text === undefined) {
    text = '';
    for (const [key, value] of Object.entries(extra))
      text += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
    extraTexts.set(extra, text);
  }
  return text;
}
