/**
 * Token prefixes of Slack, GitHub, AWS and Atlassian followed by key characters, a PEM header, or
 * a long run of key-like characters, anywhere in the text.
 */
const SECRET_INSIDE =
  /(xox[abeprs]-|xapp-|gh[pousr]_|github_pat_|ATATT)[A-Za-z0-9_=-]{6,}|A[KS]IA[A-Z0-9]{16}|-----BEGIN|[A-Za-z0-9+/=_-]{32,}/;

/**
 * Whether the text has anything in it that looks like a token or key: what someone typed is
 * summarised as `[redacted]` in logs and audit records when it does.
 */
export function looksSecret(text: string): boolean {
  return SECRET_INSIDE.test(text);
}
