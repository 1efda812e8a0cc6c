import { channelMention, escapeText, inlineCode, userMention } from '../text/escape.js';

/** What was found in one message: kinds by title, and which of opsbot's own secrets (never a value). */
export interface LeakSummary {
  channel: string;
  author: string;
  ts: string;
  /** Titles of the kinds found, e.g. `Slack bot token`, each once. */
  titles: readonly string[];
  /** Names of opsbot's own secrets found (`datadog`), each once. */
  ownSecrets: readonly string[];
  /** A link to the message, when Slack gave one. */
  permalink?: string;
  edited: boolean;
}

/** Where the message is, as Slack renders it: the channel and a link (or the ts). */
function where(s: LeakSummary): string {
  const link =
    s.permalink && /^https:\/\/[^\s<>|]+$/.test(s.permalink) ? `<${s.permalink}|message>` : undefined;
  return `${channelMention(s.channel)} (${link ?? `message ${inlineCode(s.ts)}`})`;
}

function kinds(titles: readonly string[]): string {
  const named = titles.map(escapeText);
  return named.length <= 1
    ? (named[0] ?? 'a credential')
    : `${named.slice(0, -1).join(', ')} and ${named.at(-1)}`;
}

function own(names: readonly string[]): string {
  return names.map((n) => inlineCode(n, 40)).join(', ');
}

/** The author's private warning: what and where, and what to do now. */
export function authorWarning(s: LeakSummary): string {
  const lines = [
    `:warning: Your ${s.edited ? 'edited ' : ''}message in ${where(s)} contains a credential: ${kinds(s.titles)}.`,
    '*Delete the message now*, then rotate the credential where it was issued (revoke it and make a new one): ' +
      'everyone in the channel, and every app in it, may already have read it. opsbot does not keep the message or the value.',
  ];
  if (s.ownSecrets.length > 0)
    lines.push(`It is one of opsbot's own credentials (${own(s.ownSecrets)}): opsbot is rotating it now.`);
  return lines.join('\n');
}

/** The security channel's report (or each admin's DM). */
export function securityReport(s: LeakSummary): string {
  const lines = [
    `:rotating_light: *Credential posted in a channel:* ${userMention(s.author)} ${s.edited ? 'edited' : 'posted'} ` +
      `${kinds(s.titles)} into ${where(s)}.`,
    s.ownSecrets.length > 0
      ? `*One of opsbot's own:* ${own(s.ownSecrets)}. An emergency rotation is being started; the outcome follows in this thread.`
      : "Not one of opsbot's own credentials. The author was asked to delete the message and rotate it.",
  ];
  if (s.ownSecrets.length > 0) lines.push('The author was asked to delete the message.');
  return lines.join('\n');
}

/** How an emergency rotation of a leaked secret ended, as the rotation hook reported it. */
export interface LeakRotationOutcome {
  /**
   * `rotated`: a new version is current and the leaked value no longer works; `unchanged`: a new
   * version is current but the leaked field is in it still (a value a person makes); `failed`: the
   * rotation stopped; `unavailable`: nothing can rotate it automatically (a person must).
   */
  status: 'rotated' | 'unchanged' | 'failed' | 'unavailable';
  /** One sentence for the security channel: what happened or what to do (never a value). */
  message: string;
}

/** The follow-up once the rotation hook answered. */
export function rotationFollowUp(secretName: string, outcome: LeakRotationOutcome): string {
  const name = inlineCode(secretName, 40);
  const detail = escapeText(outcome.message);
  switch (outcome.status) {
    case 'rotated':
      return `:white_check_mark: ${name} was rotated: the leaked value no longer works. ${detail}`;
    case 'unchanged':
      return `:warning: ${name} was rotated, but the leaked value still works. ${detail}`;
    case 'failed':
      return `:x: The emergency rotation of ${name} stopped: the leaked value may still work. ${detail}`;
    default:
      return `:warning: ${name} was not rotated: ${detail}`;
  }
}
