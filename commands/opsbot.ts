import { adoptUnkeyed } from '../src/audit/adopt.js';
import { ANCHOR_TEXT, parseAnchor } from '../src/audit/anchor.js';
import { UNKEYED_ADOPTED } from '../src/audit/chain.js';
import { AuditUnavailableError } from '../src/audit/errors.js';
import type { AuditRecord } from '../src/audit/records.js';
import { describeCheck } from '../src/audit/verify-report.js';
import { type CommandContext, defineCommand, type Reply } from '../src/command-kit/command-spec.js';
import { runnableActions, runnableHere } from '../src/command-kit/runnable.js';
import { ErrorCode, UserFacingError } from '../src/errors.js';
import { actions, button, context, header, sections } from '../src/slack/blocks.js';
import { describePolicy } from '../src/slack/policy-text.js';
import { channelMention, escapeText, inlineCode, usergroupMention, userMention } from '../src/text/escape.js';
import { accessReviewReply, attestReview } from './opsbot-access-review.js';
import { approvalActions, approvalsReply } from './opsbot-approvals.js';
import { rotateReply, SECRET_ARG, secretsReply } from './opsbot-secrets.js';
import { securityActions } from './opsbot-security.js';

const ACTION_ARG = /^[a-z][a-z0-9-]{0,20}(:[a-z0-9 *?-]{1,40})?$/;

/** `/opsbot`: help, who you are, the effective policy and the audit trail. */
export const opsbot = defineCommand({
  name: 'opsbot',
  description: 'help, who you are here, the access policy, the audit trail and opsbot’s secrets',
  subcommands: (sub) => [
    sub({
      name: 'help',
      readOnly: true,
      summary: 'every command you may run here',
      examples: ['help'],
      run: async (ctx) => overview(ctx),
    }),
    sub({
      name: 'whoami',
      readOnly: true,
      summary: 'your ids, your user groups, and what you may run in this channel',
      examples: ['whoami'],
      run: async (ctx) => whoami(ctx),
    }),
    sub({
      name: 'access',
      readOnly: true,
      summary: 'the effective access policy (admins only)',
      examples: ['access'],
      run: async (ctx) => access(ctx),
    }),
    sub({
      name: 'access review',
      readOnly: true,
      summary:
        'which grants were used in the window, the unused ones as a change to the policy file, who left (admins only)',
      flags: [
        {
          name: 'days',
          kind: 'number',
          min: 1,
          max: 365,
          description: 'the usage window in days (default `security.review.days`, 90)',
        },
      ],
      examples: ['access review', 'access review --days 30'],
      run: async (ctx, { flags }) => accessReviewReply(ctx, flags.days),
    }),
    sub({
      name: 'audit',
      readOnly: true,
      summary: 'recent audit records, newest first, or check that the trail is intact (admins only)',
      flags: [
        { name: 'user', kind: 'user', description: 'only this user' },
        {
          name: 'command',
          pattern: ACTION_ARG,
          hint: 'gh or gh:pr list',
          accepts: 'a command or an action, like `gh` or `gh:pr list`',
          maxLength: 60,
          description: 'only this command or action',
        },
        {
          name: 'since',
          kind: 'duration',
          max: 90 * 86_400_000,
          hint: '24h',
          description: 'only this recent (e.g. 24h)',
        },
        { name: 'limit', kind: 'number', min: 1, max: 50, description: 'at most this many (default 20)' },
        { name: 'verify', kind: 'boolean', description: 'recompute the hash chain over the whole trail' },
        {
          name: 'adopt-unkeyed',
          kind: 'number',
          min: 1,
          max: Number.MAX_SAFE_INTEGER,
          accepts: 'the number of the last record chained without a key, like `8` (`--verify` names it)',
          description:
            'the last record chained without a key, before the audit key was set: adopt them (keyed trails only; --verify names it)',
        },
        {
          name: 'anchor',
          pattern: ANCHOR_TEXT,
          hint: 'seq:hash',
          accepts: 'a record number and its hash (as --verify prints them), like `12:0f3a9c1e5b7d2468`',
          maxLength: 80,
          description:
            'the last auditAnchor (seq:hash) from the log: the trail must still reach it (implies --verify)',
        },
      ],
      examples: [
        'audit --since 24h',
        'audit --user @alice --command gh',
        'audit --verify',
        'audit --verify --anchor 1042:9f2c4e1a0b7d3c55',
        'audit --adopt-unkeyed 8',
      ],
      run: async (ctx, { flags }) =>
        flags['adopt-unkeyed'] !== undefined
          ? adopt(ctx, flags['adopt-unkeyed'])
          : flags.verify || flags.anchor
            ? verify(ctx, flags.anchor)
            : audit(ctx, {
                user: flags.user,
                command: flags.command,
                sinceMs: flags.since,
                limit: flags.limit ?? 20,
              }),
    }),
    sub({
      name: 'secrets',
      readOnly: true,
      summary:
        'opsbot’s secrets: versions, rotation, expiry and what is overdue, never a value (admins only)',
      examples: ['secrets'],
      run: async (ctx) => secretsReply(ctx),
    }),
    sub({
      name: 'rotate',
      summary:
        'rotate one of opsbot’s secrets now and follow it until the bot serves the new version (admins only)',
      args: [
        {
          name: 'secret',
          pattern: SECRET_ARG,
          hint: 'secret',
          accepts: 'one of opsbot’s secrets, like `audit` (`/opsbot secrets` lists them)',
          maxLength: 41,
        },
      ],
      flags: [
        {
          name: 'emergency',
          kind: 'boolean',
          description: 'the current value leaked: accept no earlier version once the new one is current',
        },
      ],
      examples: ['rotate audit', 'rotate datadog --emergency', 'rotate jira'],
      run: async (ctx, { args, flags }) => rotateReply(ctx, args.secret, flags.emergency === true),
    }),
    sub({
      name: 'approvals',
      readOnly: true,
      summary: 'the open approval requests you made or may decide',
      examples: ['approvals'],
      run: async (ctx) => approvalsReply(ctx),
    }),
  ],
  actions: {
    ...securityActions,
    ...approvalActions,
    'opsbot:audit': async (ctx) => verify(ctx, undefined),
    'opsbot:review-attest': async (ctx, value) => attestReview(ctx, value),
    'opsbot:rotate': async (ctx, value) => {
      if (!SECRET_ARG.test(value)) throw new UserFacingError('That button names no secret opsbot knows.');
      return rotateReply(ctx, value, false);
    },
  },
});

/** Help and whoami both show this one answer (`help` itself, open to everyone, is left out). */
const runnable = (ctx: CommandContext) => runnableHere(ctx.services, ctx.actor);

async function overview(ctx: CommandContext): Promise<Reply> {
  const lines = (await runnable(ctx)).map(({ module: m, subcommands }) => {
    const mine = subcommands.map((s) => `\`${s.name}\``);
    const what = mine.length > 0 ? mine.join(', ') : '_nothing here_';
    return `• */${m.name}* — ${m.description}\n      you may run: ${what}`;
  });
  const text = `*What you may run in ${channelMention(ctx.actor.channelId)}*\n${lines.join('\n')}`;
  return {
    text,
    blocks: [
      ...sections([text]),
      context('`/<command> help` explains each subcommand with an example. `/opsbot whoami` shows why.'),
    ],
  };
}

async function whoami(ctx: CommandContext): Promise<Reply> {
  const { policy, membership } = ctx.services;
  const { userId, channelId, teamId } = ctx.actor;
  const groups: string[] = [];
  for (const group of policy.usergroups().slice(0, 20)) {
    try {
      if (await membership(group, userId)) groups.push(usergroupMention(group));
    } catch {
      groups.push(`${usergroupMention(group)} (could not check)`);
    }
  }
  const allowed = runnableActions(await runnable(ctx));
  const lines = [
    `*You are* ${userMention(userId)} (\`${userId}\`) in ${channelMention(channelId)} (\`${channelId}\`), workspace \`${escapeText(teamId)}\``,
    `*opsbot admin:* ${ctx.isAdmin ? 'yes' : 'no'}`,
    `*Your user groups named in the policy:* ${groups.length > 0 ? groups.join(', ') : 'none'}`,
    `*You may run here:* ${allowed.length > 0 ? allowed.map((a) => `\`${a}\``).join(', ') : 'only `help` and `whoami`'}`,
  ];
  return { text: lines.join('\n'), blocks: sections(lines) };
}

function requireAdmin(ctx: CommandContext): void {
  // The policy already refuses these to non-admins; this guards a mis-wired registry too.
  if (!ctx.isAdmin)
    throw new UserFacingError('That is for opsbot admins only.', { code: ErrorCode.AccessDenied });
}

function access(ctx: CommandContext): Reply {
  requireAdmin(ctx);
  const lines = describePolicy(ctx.services.policy);
  return {
    text: lines.join('\n'),
    blocks: [
      header('Access policy'),
      ...sections(lines),
      context('Deny by default: anything not listed is refused.'),
    ],
  };
}

interface AuditFilter {
  user: string | undefined;
  command: string | undefined;
  sinceMs: number | undefined;
  limit: number;
}

async function audit(ctx: CommandContext, filter: AuditFilter): Promise<Reply> {
  requireAdmin(ctx);
  const { state, clock } = ctx.services;
  const records = await state.audit.query({
    ...(filter.user ? { actor: filter.user } : {}),
    ...(filter.command ? { command: filter.command } : {}),
    ...(filter.sinceMs ? { since: new Date(clock.now() - filter.sinceMs).toISOString() } : {}),
    limit: filter.limit,
  });
  if (records.length === 0) return { text: 'No audit records match.' };
  const lines = records.map(formatRecord);
  const title = `Audit trail: ${records.length} record${records.length === 1 ? '' : 's'}, newest first`;
  return {
    text: `${title}\n${lines.join('\n')}`,
    blocks: [
      header(title),
      ...sections(lines, 15),
      actions([button('Verify the chain', 'opsbot:audit', 'verify')]),
    ],
  };
}

async function verify(ctx: CommandContext, anchorText: string | undefined): Promise<Reply> {
  requireAdmin(ctx);
  const anchor = anchorText === undefined ? undefined : parseAnchor(anchorText);
  if (anchorText !== undefined && !anchor)
    throw new UserFacingError(
      '`--anchor` must be `seq:hash` as an `auditAnchor` log line has it, e.g. `1042:9f2c4e1a0b7d3c55` (the hash, or at least its first 16 hex digits).',
    );
  const { audit } = ctx.services.state;
  const check = await audit.verify(anchor ? { anchor } : {});
  const keyed = audit.head()?.keyVersion !== undefined;
  return { text: describeCheck(check, { anchorGiven: anchor !== undefined, keyed }) };
}

/** One keyed, audited step: the admin vouches for the records written before the audit key was set. */
async function adopt(ctx: CommandContext, seq: number): Promise<Reply> {
  requireAdmin(ctx);
  let adopted: Awaited<ReturnType<typeof adoptUnkeyed>>;
  try {
    adopted = await adoptUnkeyed(ctx.services.state.audit, seq, ctx.actor.userId);
  } catch (error) {
    if (error instanceof UserFacingError) throw error;
    throw new AuditUnavailableError(ctx.requestId, { cause: error });
  }
  const { record, adopted: r } = adopted;
  const which = r.from === r.to ? `record #${r.from}` : `records #${r.from}–#${r.to}`;
  return {
    text: `:white_check_mark: You adopted ${which}, chained without a key before the audit key was set: record #${record.seq} (\`${UNKEYED_ADOPTED}\`, chained with the key) names them, and \`/opsbot audit --verify\` accepts them from now on.`,
  };
}

function formatRecord(r: AuditRecord): string {
  if (r.unreadable)
    return `#${r.seq} · :warning: this record cannot be read (${escapeText(r.unreadable)}); \`/opsbot audit --verify\` reports where the trail breaks`;
  const d = r.details;
  const who = /^[UW][A-Z0-9]{2,20}$/.test(r.actor) ? userMention(r.actor) : escapeText(r.actor);
  const where =
    typeof d.channel === 'string' && /^[CGD][A-Z0-9]{2,20}$/.test(d.channel)
      ? ` in ${channelMention(d.channel)}`
      : '';
  const args = typeof d.args === 'string' && d.args ? ` ${inlineCode(d.args, 120)}` : '';
  const result = typeof d.result === 'string' ? d.result : r.outcome;
  const latency = typeof d.latencyMs === 'number' ? ` · ${d.latencyMs} ms` : '';
  const error = typeof d.errorId === 'string' ? ` · error id ${escapeText(d.errorId)}` : '';
  return `#${r.seq} · ${r.at.replace('T', ' ').slice(0, 19)} UTC · ${who}${where} · ${inlineCode(r.action)}${args} · ${r.outcome === 'denied' ? 'denied' : result}${latency}${error}`;
}
