import { looksSecret } from '../log/looks-secret.js';

/** Longest summary kept in an audit record. */
const MAX_SUMMARY = 500;

/**
 * One value as the audit trail keeps it, like a command's arguments: short values as they are,
 * free text (spaces, or over 64 characters) reduced to its length, anything token-like (as a whole
 * or as one of its `:`/`/`/`,`-separated parts) `[redacted]`.
 *
 * @example
 * summarizeValue('acme/web:12345');      // 'acme/web:12345'
 * summarizeValue('Login fails on Safari'); // '[21 chars]'
 */
export function summarizeValue(value: string): string {
  if (looksSecret(value) || value.split(/[\s:/,;|=&?]+/).some((part) => part.length > 0 && looksSecret(part)))
    return '[redacted]';
  if (value.length > 64 || /\s/.test(value)) return `[${value.length} chars]`;
  return value;
}

/** A button's value, as its audit record's arguments: `value=acme/web:12345`. */
export function summarizeButtonValue(value: unknown): string {
  return typeof value === 'string' && value !== '' ? `value=${summarizeValue(value)}` : '';
}

type ViewInput = {
  value?: unknown;
  selected_option?: { value?: unknown } | null;
  selected_options?: { value?: unknown }[];
  selected_user?: unknown;
  selected_users?: unknown[];
  selected_channel?: unknown;
  selected_conversation?: unknown;
  selected_date?: unknown;
};

/**
 * A form's inputs, as its audit record's arguments: `repo=acme/web title=[13 chars] labels=bug,p2`
 * (one `block=value` per input, named by its block id; summarized like {@link summarizeValue}).
 */
export function summarizeViewState(values: unknown): string {
  if (typeof values !== 'object' || values === null) return '';
  const parts: string[] = [];
  for (const [block, actions] of Object.entries(values as Record<string, Record<string, ViewInput>>)) {
    for (const input of Object.values(actions ?? {})) {
      const value = inputValue(input);
      if (value !== undefined && value !== '') parts.push(`${safeName(block)}=${summarizeValue(value)}`);
    }
  }
  return parts.join(' ').slice(0, MAX_SUMMARY);
}

function inputValue(input: ViewInput | undefined): string | undefined {
  if (!input || typeof input !== 'object') return undefined;
  const single =
    input.value ??
    input.selected_option?.value ??
    input.selected_user ??
    input.selected_channel ??
    input.selected_conversation ??
    input.selected_date;
  if (typeof single === 'string') return single;
  const many = input.selected_options?.map((o) => o?.value) ?? input.selected_users;
  return Array.isArray(many) ? many.filter((v): v is string => typeof v === 'string').join(',') : undefined;
}

/** Block ids are the app's own (`repo`, `title`); anything else is cut to a safe name. */
function safeName(block: string): string {
  return /^[A-Za-z0-9_-]{1,40}$/.test(block) ? block : 'input';
}
