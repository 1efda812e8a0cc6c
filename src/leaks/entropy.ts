/**
 * How random a candidate value looks: Shannon entropy in bits per character and the character
 * classes it mixes. Both read at most {@link MAX_MEASURED} characters, so the cost per value is
 * bounded whatever the caller passes.
 */

/** Values are at most this long when measured; the rules never produce longer ones. */
export const MAX_MEASURED = 1024;

/** Shannon entropy of the characters of `text`, in bits per character (0 for the empty string). */
export function shannonEntropy(text: string): number {
  const length = Math.min(text.length, MAX_MEASURED);
  if (length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

export interface CharClasses {
  upper: boolean;
  lower: boolean;
  digit: boolean;
  /** Anything that is not an ASCII letter or digit. */
  other: boolean;
}

export function charClasses(text: string): CharClasses {
  const classes: CharClasses = { upper: false, lower: false, digit: false, other: false };
  const length = Math.min(text.length, MAX_MEASURED);
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) classes.upper = true;
    else if (c >= 97 && c <= 122) classes.lower = true;
    else if (c >= 48 && c <= 57) classes.digit = true;
    else classes.other = true;
  }
  return classes;
}
