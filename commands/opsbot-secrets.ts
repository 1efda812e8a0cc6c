import type { CommandContext, Reply } from '../src/command-kit/command-spec.js';
import { ErrorCode, UserFacingError } from '../src/errors.js';
import type { SecretRow } from '../src/secret-rotation/inventory.js';
import {
  type RotationOutcome,
  type RotationPhase,
  type SecretRotation,
  short,
} from '../src/secret-rotation/service.js';
import { actions, button, context, header, sections } from '../src/slack/blocks.js';
import { escapeText, inlineCode } from '../src/text/escape.js';

const DAY = 86_400_000;

/** `<secret>` of `/opsbot rotate`: a secret's short name. */
export const SECRET_ARG = /^[a-z][a-z0-9-]{0,40}$/;

function rotationOf(ctx: CommandContext): SecretRotation {
  const rotation = ctx.services.secretRotation;
  if (!ctx.isAdmin)
    throw new UserFacingError('That is for opsbot admins only.', { code: ErrorCode.AccessDenied });
  if (!rotation)
    throw new UserFacingError('Secret rotation is not wired in this build of opsbot.', {
      code: ErrorCode.NotConfigured,
    });
  return rotation;
}

/** `/opsbot secrets`: one line per secret, never a value. */
export async function secretsReply(ctx: CommandContext): Promise<Reply> {
  const rotation = rotationOf(ctx);
  const now = ctx.services.clock.now();
  const rows = await rotation.inventory();
  const lines = rows.map((row) => secretLine(row, now));
  const overdue = rows.filter((r) => r.overdue.length > 0);
  const title = `opsbot's secrets: ${rows.length}, ${overdue.length === 0 ? 'nothing overdue' : `${overdue.length} need attention`}`;
  const buttons = overdue
    .filter((r) => r.rotatable && r.status?.rotationEnabled)
    .slice(0, 5)
    .map((r) => button(`Rotate ${r.short}`, 'opsbot:rotate', r.short));
  return {
    text: `${title}\n${lines.join('\n')}`,
    blocks: [
      header(title),
      ...sections(lines, 15),
      ...(buttons.length > 0 ? [actions(buttons)] : []),
      context(
        'Never a value. `/opsbot rotate <secret>` rotates one; `--emergency` also ends the old value’s grace at once.',
      ),
    ],
  };
}

/** One secret's line (exported for the reminder's tests and golden text). */
export function secretLine(row: SecretRow, now: number): string {
  const s = row.status;
  const name = `*${escapeText(row.short)}* ${inlineCode(row.name)}`;
  if (!s) return `• ${name} · does not exist`;
  const parts = [
    name,
    escapeText(s.source),
    s.currentVersion ? `version ${inlineCode(short(s.currentVersion))}` : 'no AWSCURRENT',
    `age ${ago(s.currentCreatedAt ?? s.lastRotatedAt ?? s.createdAt, now)}`,
    `rotated ${s.lastRotatedAt ? `${ago(s.lastRotatedAt, now)} ago` : 'never'}`,
    !row.rotatable
      ? 'not rotated by opsbot'
      : s.rotationEnabled
        ? `rotation on (${escapeText(s.schedule ?? 'no schedule')}${s.nextRotationAt ? `, next ${day(s.nextRotationAt)}` : ''})`
        : 'rotation off',
    `last accessed ${s.lastAccessedAt ? day(s.lastAccessedAt) : 'never'}`,
  ];
  if (s.pendingVersion) parts.push(`pending ${inlineCode(short(s.pendingVersion))}`);
  if (s.emergency) parts.push('emergency: no earlier version accepted');
  if (row.expiresAt !== undefined) parts.push(`vendor expiry ${day(row.expiresAt)}`);
  if (row.loadedVersion && s.currentVersion && row.loadedVersion !== s.currentVersion)
    parts.push(`the bot still serves ${inlineCode(short(row.loadedVersion))}`);
  const flag = row.overdue.length > 0 ? `\n      :warning: ${row.overdue.map(escapeText).join('; ')}` : '';
  return `• ${parts.join(' · ')}${flag}`;
}

/** `/opsbot rotate <secret> [--emergency]` (and the Rotate button): one message, updated as it goes. */
export async function rotateReply(ctx: CommandContext, secret: string, emergency: boolean): Promise<Reply> {
  const rotation = rotationOf(ctx);
  const begun = await rotation.begin(secret, { emergency });
  const what = `${inlineCode(begun.name)}${emergency ? ' (emergency)' : ''}`;
  const outcome = await rotation.follow(begun, (phase) =>
    ctx.progress({ text: progressText(what, phase, begun.token, begun.personMade) }),
  );
  return { text: outcomeText(what, outcome) };
}

function progressText(what: string, phase: RotationPhase, token: string, personMade: boolean): string {
  const v = inlineCode(short(token));
  switch (phase) {
    case 'started':
      return `:hourglass: Rotating ${what}: version ${v} is AWSPENDING; the rotation function ${personMade ? 'checks the value you put' : 'makes the new value'}. This message updates as it goes.`;
    case 'testing':
      return `:hourglass: Rotating ${what}: version ${v} holds the new value; it is being set at the vendor and tested.`;
    case 'current':
      return `:hourglass: Rotating ${what}: version ${v} is tested and AWSCURRENT; waiting for the bot to serve it.`;
  }
}

function outcomeText(what: string, outcome: RotationOutcome): string {
  const v = inlineCode(short(outcome.rotation.token));
  if (outcome.status === 'stopped')
    return `:x: The rotation of ${what} stopped (${outcome.phase === 'started' ? 'before the new value was made' : outcome.phase === 'testing' ? 'before the new value was promoted' : 'after promotion'}): ${outcome.reason}`;
  if (!outcome.botServes)
    return `:warning: ${what} is rotated: version ${v} is AWSCURRENT, but the bot has not loaded it yet (it polls Secrets Manager; \`/opsbot secrets\` shows what it serves).`;
  const grace = outcome.rotation.emergency
    ? 'Emergency: the previous version is no longer accepted.'
    : 'The previous version stays accepted for the grace period, then only the new one.';
  return `:white_check_mark: ${what} is rotated: version ${v} is AWSCURRENT and the bot serves it. ${grace}`;
}

function ago(at: number | undefined, now: number): string {
  if (at === undefined) return 'unknown';
  const days = Math.floor((now - at) / DAY);
  if (days >= 1) return `${days} day${days === 1 ? '' : 's'}`;
  const hours = Math.floor((now - at) / 3_600_000);
  return hours >= 1 ? `${hours} h` : `${Math.max(0, Math.floor((now - at) / 60_000))} min`;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
