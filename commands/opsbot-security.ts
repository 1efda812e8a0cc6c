import { AuditUnavailableError } from '../src/audit/errors.js';
import type { AuditRecord } from '../src/audit/records.js';
import type { CommandContext, InteractionHandler, Reply } from '../src/command-kit/command-spec.js';
import { ErrorCode, UserFacingError } from '../src/errors.js';
import type { Detection } from '../src/security/detection.js';
import { ACK_ACTION, detectionMessage, OPEN_ACTION, who } from '../src/security/detections/message.js';
import { detectionRefKey } from '../src/security/reporter.js';
import { header, sections } from '../src/slack/blocks.js';
import { escapeText, inlineCode } from '../src/text/escape.js';

/** "Open in audit"'s value: the evidence's sequence numbers, `12,13,14` (at most 50). */
const SEQS = /^[1-9]\d{0,15}(,[1-9]\d{0,15}){0,49}$/;

function requireAdmin(ctx: CommandContext): void {
  if (!ctx.isAdmin)
    throw new UserFacingError('Security detections are for opsbot admins only.', {
      code: ErrorCode.AccessDenied,
    });
}

/** The detection a message was posted for, as the reporter remembered it (undefined once forgotten). */
async function rememberedDetection(
  ctx: CommandContext,
  key: string,
): Promise<{ detection: Detection; channel: string; ts: string; version: number } | undefined> {
  const ref = await ctx.services.state.messages.get(detectionRefKey(key));
  if (!ref?.data) return undefined;
  try {
    const detection = JSON.parse(ref.data) as Detection;
    return detection.key === key
      ? { detection, channel: ref.channel, ts: ref.ts, version: ref.version }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Acknowledge (admins): audited as `security:acknowledged` (who, the key), then the message is
 * updated to say who acknowledged it (its Acknowledge button gone).
 */
async function acknowledge(ctx: CommandContext, key: string): Promise<Reply> {
  requireAdmin(ctx);
  if (key.length === 0 || key.length > 512) throw new UserFacingError('That button names no detection.');
  const { state, clock, slack } = ctx.services;
  const at = new Date(clock.now()).toISOString();
  try {
    await state.audit.append({
      action: 'security:acknowledged',
      outcome: 'success',
      actor: ctx.actor.userId,
      details: { key: key.slice(0, 200), channel: ctx.actor.channelId },
    });
  } catch (error) {
    throw new AuditUnavailableError(ctx.requestId, { cause: error });
  }
  const found = await rememberedDetection(ctx, key);
  const onThisMessage =
    found && (!ctx.message || (ctx.message.channelId === found.channel && ctx.message.ts === found.ts));
  if (found && onThisMessage) {
    try {
      await slack.updateMessage({
        channel: found.channel,
        ts: found.ts,
        ...detectionMessage(found.detection, { by: ctx.actor.userId, at }),
      });
      return { text: `You acknowledged this detection (${inlineCode(key, 120)}); the message says so.` };
    } catch {
      // The record is written; the reply below says who acknowledged, in the channel instead.
    }
  }
  return {
    text: `:white_check_mark: ${who(ctx.actor.userId)} acknowledged detection ${inlineCode(key, 120)}.`,
    responseType: 'in_channel',
    replaceOriginal: false,
  };
}

/** Open in audit (admins): the evidence's records, oldest first. */
async function openInAudit(ctx: CommandContext, value: string): Promise<Reply> {
  requireAdmin(ctx);
  if (!SEQS.test(value)) throw new UserFacingError('That button names no audit records.');
  const seqs = [...new Set(value.split(',').map(Number))].sort((a, b) => a - b);
  const { audit } = ctx.services.state;
  const records: AuditRecord[] = [];
  for (const seq of seqs) {
    const last = records.at(-1);
    if (last && last.seq >= seq) continue;
    const [record] = await audit.readAfter(seq - 1, 1);
    if (record?.seq === seq) records.push(record);
  }
  if (records.length === 0)
    return { text: `No audit record ${seqs.map((s) => `#${s}`).join(', ')} was found.` };
  const lines = records.map(recordLine);
  const title = `Audit records ${seqs.length === 1 ? `#${seqs[0]}` : `#${seqs[0]}–#${seqs.at(-1)}`}: ${records.length}`;
  return { text: `${title}\n${lines.join('\n')}`, blocks: [header(title), ...sections(lines, 15)] };
}

function recordLine(r: AuditRecord): string {
  if (r.unreadable) return `#${r.seq} · :warning: this record cannot be read (${escapeText(r.unreadable)})`;
  const args =
    typeof r.details.args === 'string' && r.details.args ? ` ${inlineCode(r.details.args, 120)}` : '';
  return `#${r.seq} · ${escapeText(r.at.replace('T', ' ').slice(0, 19))} UTC · ${who(r.actor)} · ${inlineCode(r.action)}${args} · ${escapeText(r.outcome)}`;
}

/** The buttons on security detections (added to `/opsbot`'s `actions`). */
export const securityActions: Record<string, InteractionHandler> = {
  [ACK_ACTION]: acknowledge,
  [OPEN_ACTION]: openInAudit,
};
