import type {
  Middleware,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackShortcutMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import { summarizeButtonValue, summarizeViewState } from '../../audit/args-summary.js';
import { AuditUnavailableError } from '../../audit/errors.js';
import type { AuditEvent } from '../../audit/records.js';
import { INTENT_DEADLINE_MS } from '../../audit/sink.js';
import type { Actor } from '../../command-kit/command-spec.js';
import { ErrorCode } from '../../errors.js';
import { newRequestId } from '../../request-scope.js';
import { INTERACTION, type Interaction, type PipelineDeps } from '../interaction.js';

type AnyInteractionArgs =
  | SlackCommandMiddlewareArgs
  | SlackActionMiddlewareArgs
  | SlackViewMiddlewareArgs
  | SlackShortcutMiddlewareArgs;

/**
 * The first middleware of every command, button and modal: starts the request scope (request id,
 * credential versions used) and, once everything after it has finished, writes exactly one audit
 * event: time, team, actor, channel, action, arguments, decision, outcome, latency, versions.
 * Before a side effect (a subcommand that is not read-only, any button or form) it stores an
 * `intent` record with the same action, actor and arguments, and waits for it: when it cannot be
 * stored within {@link INTENT_DEADLINE_MS}, the action is refused (audit fails closed).
 */
export function auditInteraction(kind: Interaction['kind'], deps: AuditDeps): Middleware<AnyInteractionArgs> {
  return async (args) => {
    const { context, next } = args;
    const requestId = typeof context.requestId === 'string' ? context.requestId : newRequestId();
    const interaction = openInteraction(kind, deps, { requestId, actor: actorOf(args), args: argsOf(args) });
    for (const key of ['signedWith', 'botTokenVersion'] as const) {
      if (typeof context[key] === 'string') interaction.scope.credentialVersions.add(`slack@${context[key]}`);
    }
    context[INTERACTION] = interaction;
    await runSealed(interaction, deps, next);
  };
}

type AuditDeps = Pick<PipelineDeps, 'audit' | 'clock' | 'log' | 'countError'> & { intentDeadlineMs?: number };

/**
 * A new interaction whose `beforeSideEffect` stores the intent record and whose `seal` writes the
 * final one (once): what the audit middleware starts for every request, and what an approved
 * request runs under later. `approvedBy` goes into its request scope (the requester's AWS session
 * names the approver).
 */
export function openInteraction(
  kind: Interaction['kind'],
  deps: AuditDeps,
  start: { requestId: string; actor: Actor; args: string; approvedBy?: string },
): Interaction {
  const { requestId } = start;
  const scope = {
    requestId,
    credentialVersions: new Set<string>(),
    ...(start.approvedBy ? { approvedBy: start.approvedBy } : {}),
  };
  const interaction: Interaction = {
    scope,
    kind,
    requestId,
    startedAt: deps.clock.now(),
    actor: start.actor,
    action: '?',
    args: start.args,
    decision: 'pending',
    result: 'ok',
    seal: () => {},
    beforeSideEffect: async () => {},
  };
  let sealed = false;
  let intent: Promise<void> | undefined;
  // Stored (not just sent) before the side effect: if the trail cannot take it, nothing runs.
  interaction.beforeSideEffect = () => {
    intent ??= deps.audit
      .record(eventOf(interaction, 'intent'), deps.intentDeadlineMs ?? INTENT_DEADLINE_MS)
      .then(
        () => undefined,
        (error: unknown) => {
          throw new AuditUnavailableError(requestId, { cause: error });
        },
      );
    return intent;
  };
  // Written once the outcome is known, before the answer goes out: the trail never lags the
  // conversation, and a reply that fails to send cannot lose the record.
  interaction.seal = () => {
    if (sealed) return;
    sealed = true;
    deps.audit.write(
      eventOf(interaction, outcomeOf(interaction), Math.max(0, deps.clock.now() - interaction.startedAt)),
    );
    if (interaction.errorCode)
      deps.countError(interaction.action.split(':')[0] ?? '?', interaction.errorCode);
  };
  return interaction;
}

/** How an interaction ended, as its audit record says. */
export function outcomeOf(interaction: Interaction): 'success' | 'denied' | 'error' {
  return interaction.decision === 'denied' ? 'denied' : interaction.result === 'ok' ? 'success' : 'error';
}

/** Runs `work` under the interaction; whatever happens, its final record is written once. */
export async function runSealed(
  interaction: Interaction,
  deps: Pick<AuditDeps, 'log'>,
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (error) {
    interaction.result = 'internal_error';
    interaction.errorId = interaction.requestId;
    interaction.errorCode = ErrorCode.Internal;
    deps.log.error(
      { err: error, requestId: interaction.requestId },
      'a Slack interaction failed outside its handler',
    );
  } finally {
    interaction.seal();
  }
}

/** The audit event of an interaction: its intent (before a side effect), or how it ended. */
function eventOf(interaction: Interaction, outcome: AuditEvent['outcome'], latencyMs?: number): AuditEvent {
  const { actor, scope } = interaction;
  const final = outcome !== 'intent';
  return {
    action: interaction.action,
    actor: actor.userId,
    outcome,
    // In sorted key order: the chain's canonical text of a record is then JSON.stringify's (faster).
    details: {
      approval: interaction.approval?.id,
      approvedBy: interaction.approval?.approvedBy,
      args: interaction.args || undefined,
      breakGlass: interaction.breakGlass,
      channel: actor.channelId,
      credentials: [...scope.credentialVersions].join(',') || undefined,
      decision: interaction.decision,
      errorCode: final ? interaction.errorCode : undefined,
      errorId: final ? interaction.errorId : undefined,
      heldAs: interaction.heldAs,
      kind: interaction.kind,
      latencyMs,
      requestId: interaction.requestId,
      result: final ? interaction.result : undefined,
      surface: actor.surface,
      team: actor.teamId,
    },
  };
}

/** What a button or form targets, for its audit record (a command's arguments are set by its route). */
function argsOf(args: AnyInteractionArgs): string {
  if ('action' in args) return summarizeButtonValue((args.action as { value?: unknown }).value);
  if ('view' in args) return summarizeViewState(args.view.state?.values);
  if ('shortcut' in args) {
    const message = (args.shortcut as { message?: { ts?: unknown; text?: unknown } }).message;
    return `message=${String(message?.ts ?? '?').slice(0, 20)} text=${String(message?.text ?? '').length} chars`;
  }
  return '';
}

function actorOf(args: AnyInteractionArgs): Actor {
  const body = args.body as unknown as Record<string, unknown>;
  if ('command' in args) {
    const c = args.command;
    return {
      teamId: c.team_id,
      userId: c.user_id,
      channelId: c.channel_id,
      userName: c.user_name,
      channelName: c.channel_name,
    };
  }
  const user = (body.user ?? {}) as { id?: string; name?: string; username?: string; team_id?: string };
  const team = (body.team ?? {}) as { id?: string };
  const channel = (body.channel ?? {}) as { id?: string; name?: string };
  const viewChannel = channelFromView(body);
  const where = String(channel.id ?? viewChannel ?? '');
  // A button opsbot put in a DM with the user or in App Home names the channel its action
  // belongs to (`block_id` `…@C0DEV`): the policy judges it there, as if run in that channel.
  const origin =
    'action' in args && (where === '' || where.startsWith('D')) ? originOf(args.action) : undefined;
  return {
    teamId: String(team.id ?? user.team_id ?? ''),
    userId: String(user.id ?? ''),
    channelId: origin ?? where,
    ...(origin ? { surface: where || 'home' } : {}),
    ...(user.username || user.name ? { userName: String(user.username ?? user.name) } : {}),
    ...(channel.name && !origin ? { channelName: String(channel.name) } : {}),
  };
}

/** The channel a DM or App Home button belongs to, from its block id (`devenv@C0DEV`). */
function originOf(action: unknown): string | undefined {
  const blockId = (action as { block_id?: unknown } | undefined)?.block_id;
  return typeof blockId === 'string' ? /@([CG][A-Z0-9]{2,20})$/.exec(blockId)?.[1] : undefined;
}

/** What opsbot put in a modal's private_metadata: `{"channel":"C…","thread":"1700000000.000100"}`. */
function viewMetadata(body: Record<string, unknown>): Record<string, unknown> {
  const view = body.view as { private_metadata?: string } | undefined;
  if (!view?.private_metadata) return {};
  try {
    const meta = JSON.parse(view.private_metadata) as unknown;
    return meta && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The string values of a modal's private_metadata (at most 20), for its handler. */
export function formMetadataOf(body: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(viewMetadata(body))
      .filter((e): e is [string, string] => typeof e[1] === 'string')
      .slice(0, 20),
  );
}

/** The channel a modal was opened from (its answers go there). */
export function channelFromView(body: Record<string, unknown>): string | undefined {
  const { channel } = viewMetadata(body);
  return typeof channel === 'string' && /^[CGD][A-Z0-9]{2,20}$/.test(channel) ? channel : undefined;
}

/** The thread a modal's answer belongs in (a message shortcut's message, an alert's root). */
export function threadFromView(body: Record<string, unknown>): string | undefined {
  const { thread } = viewMetadata(body);
  return typeof thread === 'string' && /^\d{1,12}\.\d{1,8}$/.test(thread) ? thread : undefined;
}
