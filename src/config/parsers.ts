/**
 * Parsers for configuration text. Each returns a result instead of throwing, never echoes more than
 * a short, printable excerpt of what it was given, and is property-tested.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(expected: string): Parsed<T> => ({ ok: false, expected });

/** A short printable excerpt of user text for an error message (never used for secret values). */
export function excerpt(text: string, max = 40): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const printable = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}

/** A whole decimal integer between min and max inclusive ("+5", "-3"; no spaces inside, no "1e3", no "0x10"). */
export function parseInteger(text: string, range: { min: number; max: number }): Parsed<number> {
  const expected = `an integer from ${range.min} to ${range.max}`;
  const trimmed = text.trim();
  if (!/^[+-]?\d{1,16}$/.test(trimmed)) return fail(expected);
  const value = Number(trimmed);
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) return fail(expected);
  return ok(Object.is(value, -0) ? 0 : value);
}

/** One of a fixed set of lower-case words; matching ignores case and surrounding spaces. */
export function parseEnum<const T extends string>(text: string, values: readonly T[]): Parsed<T> {
  const wanted = text.trim().toLowerCase();
  const found = values.find((v) => v === wanted);
  return found === undefined ? fail(`one of ${values.join(', ')}`) : ok(found);
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as "90s", "30m", "4h", "1d" or "1h30m" (units in descending order), in milliseconds. */
export function parseDuration(text: string, range: { minMs?: number; maxMs?: number } = {}): Parsed<number> {
  const expected = 'a duration such as 30m, 4h or 1d12h (units d, h, m, s)';
  const trimmed = text.trim().toLowerCase();
  const match = /^(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?$/.exec(trimmed);
  if (!match || trimmed === '') return fail(expected);
  const [, d, h, m, s] = match;
  const ms =
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(m ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s;
  if (ms <= 0) return fail(`${expected}, greater than zero`);
  if (range.minMs !== undefined && ms < range.minMs)
    return fail(`${expected}, at least ${formatDuration(range.minMs)}`);
  if (range.maxMs !== undefined && ms > range.maxMs)
    return fail(`${expected}, at most ${formatDuration(range.maxMs)}`);
  return ok(ms);
}

/** The shortest text parseDuration reads back as `ms` (whole seconds). */
export function formatDuration(ms: number): string {
  let rest = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.length ? parts.join('') : '0s';
}

/** {@link formatDuration} to the nearest minute, at least `1m`: `4h`, `1h30m`, `1d2h` (time left, TTLs). */
export function formatMinutes(ms: number): string {
  return formatDuration(Math.max(60_000, Math.round(ms / 60_000) * 60_000));
}

/** An absolute http(s) URL without credentials in it. */
export function parseHttpUrl(text: string): Parsed<string> {
  const expected = 'an absolute http:// or https:// URL without user or password';
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return fail(expected);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password)
    return fail(expected);
  return ok(url.toString().replace(/\/$/, ''));
}

/** The IAM role ARN pattern the configuration file's `devenv.roleArn` uses too. */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

export function parseRoleArn(text: string): Parsed<string> {
  const value = text.trim();
  return ROLE_ARN.test(value)
    ? ok(value)
    : fail('an IAM role ARN such as arn:aws:iam::123456789012:role/opsbot-devenv');
}
