/**
 * `new Date(ms).toISOString()`, cheaply: formatting a date costs a few microseconds on a busy
 * process, and the hot paths (each audit record's time, each log line's) ask for it many times a
 * millisecond under load. The last answer is reused within its millisecond, and the text up to the
 * seconds within its second; other times (before 1970, after 9999) are formatted in full.
 *
 * @example
 * const at = isoTime(clock.now()); // '2026-12-07T04:40:00.123Z'
 */
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  const whole = Math.trunc(ms); // as Date does (TimeClip)
  if (!(whole >= 0 && whole < YEAR_10000_MS)) return new Date(ms).toISOString();
  const second = whole - (whole % 1_000);
  if (second !== lastSecond) {
    // 'YYYY-MM-DDTHH:MM:SS.' of that second.
    lastPrefix = new Date(second).toISOString().slice(0, 20);
    lastSecond = second;
  }
  const millis = whole - second;
  lastIso = `${lastPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  lastMs = ms;
  return lastIso;
}

/** 10000-01-01T00:00:00Z: from then on the year has more than four digits. */
const YEAR_10000_MS = 253_402_300_800_000;

let lastMs = Number.NaN;
let lastIso = '';
let lastSecond = Number.NaN;
let lastPrefix = '';
