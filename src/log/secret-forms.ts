/**
 * The ways a secret value can appear in a log line, each of which the redactor masks:
 * - as is, and as it reads escaped inside a JSON string (quotes, backslashes, a PEM key's newlines);
 * - each line of a multi-line value (PEM keys appear line by line in stack traces and wrapped text);
 * - URL-encoded (`encodeURIComponent`, with upper- or lower-case escapes), whole and line by line;
 * - base64 and base64url of the value, and of `x-access-token:<value>` (GitHub's HTTP Basic auth);
 * - base64 / base64url of the value inside any longer encoded text, such as `Basic` auth of
 *   `<user>:<value>` for any user: one form per alignment (the value starting at byte 0, 1 or 2 of a
 *   3-byte group), each the characters that encode only the value's own bytes. The characters of
 *   the group where the value begins or ends also encode a neighbouring byte and are not masked, so
 *   up to 2 bytes at each end of the value stay partly visible (never more than 4 characters).
 *
 * @example
 * maskedForms('ghs_abc…'); // ['ghs_abc…', 'Z2hzX2Fi…', 'eC1hY2Nlc3Mtd…', …]
 */
export function maskedForms(value: string, minLength: number): string[] {
  const forms = new Set<string>([value, JSON.stringify(value).slice(1, -1)]);
  addUrlEncoded(forms, value);
  for (const line of value.split(/\r?\n/)) {
    if (line === value || line.length < MIN_LINE_LENGTH || line.startsWith('-----')) continue;
    forms.add(line);
    addUrlEncoded(forms, line);
  }
  const bytes = Buffer.from(value, 'utf8');
  forms.add(bytes.toString('base64'));
  forms.add(bytes.toString('base64url'));
  forms.add(Buffer.from(`x-access-token:${value}`, 'utf8').toString('base64'));
  for (let offset = 0; offset < 3; offset++) {
    const core = alignedCore(bytes, offset);
    if (core.length < MIN_CORE_LENGTH) continue;
    forms.add(core);
    forms.add(core.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return [...forms].filter((form) => form.length >= minLength);
}

/** Lines of a multi-line value shorter than this are not masked on their own (a PEM key's are 64). */
const MIN_LINE_LENGTH = 16;
/** A base64 fragment shorter than this could occur in ordinary encoded text by chance. */
const MIN_CORE_LENGTH = 12;

function addUrlEncoded(forms: Set<string>, text: string): void {
  const encoded = encodeURIComponent(text);
  if (encoded === text) return;
  forms.add(encoded);
  forms.add(encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
}

/**
 * The base64 characters that encode only `bytes` when they start at `offset` (0–2) of a 3-byte
 * group: the same whatever bytes come before and after them.
 */
function alignedCore(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
  const firstGroup = Math.ceil(offset / 3);
  const endGroup = Math.floor((offset + bytes.length) / 3);
  return endGroup > firstGroup ? encoded.slice(firstGroup * 4, endGroup * 4) : '';
}
