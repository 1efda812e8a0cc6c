import { randomUUID } from 'node:crypto';
import type {
  Middleware,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import { ErrorCode } from '../../errors.js';
import type { Actor } from '../command-spec.js';
import { INTERACTION, type Interaction, type PipelineDeps } from '../interaction.js';

type AnyInteractionArgs = SlackCommandMiddlewareArgs | SlackActionMiddlewareArgs | SlackViewMiddlewareArgs;

/**
 * The first middleware of every command, button and modal: starts the request scope (request id,
 * credential versions used) and, once everything after it has finished, writes exactly one audit
 * event: time, team, actor, channel, action, arguments, decision, outcome, latency, versions.
 */
export function auditInteraction(
  kind: Interaction['kind'],
  deps: Pick<PipelineDeps, 'audit' | 'clock' | 'log' | 'countError'>,
): Middleware<AnyInteractionArgs> {
  return async (args) => {
    const { context, next } = args;
    const requestId = typeof context.requestId === 'string' ? context.requestId : randomUUID().slice(0, 8);
    const scope = { requestId, credentialVersions: new Set<string>() };
    for (const key of ['signedWith', 'botTokenVersion'] as const) {
      if (typeof context[key] === 'string') scope.credentialVersions.add(`slack@${context[key]}`);
    }
    const interaction: Interaction = {
      scope,
      kind,
      requestId,
      startedAt: deps.clock.now(),
      actor: actorOf(args),
      action: '?',
      args: '',
      decision: 'pending',
      result: 'ok',
      seal: () => {},
      beforeSideEffect: async () => {},
    };
    context[INTERACTION] = interaction;
    let sealed = false;
    // Written once the outcome is known, before the answer goes out: the trail never lags the
    // conversation, and a reply that fails to send cannot lose the record.
    interaction.seal = () => {
      if (sealed) return;
      sealed = true;
      const { actor } = interaction;
      deps.audit.write({
        action: interaction.action,
        actor: actor.userId,
        outcome:
          interaction.decision === 'denied' ? 'denied' : interaction.result === 'ok' ? 'success' : 'error',
        details: {
          kind,
          team: actor.teamId,
          channel: actor.channelId,
          args: interaction.args || undefined,
          decision: interaction.decision,
          result: interaction.result,
          errorId: interaction.errorId,
          errorCode: interaction.errorCode,
          latencyMs: Math.max(0, deps.clock.now() - interaction.startedAt),
          credentials: [...scope.credentialVersions].join(',') || undefined,
          requestId,
        },
      });
      if (interaction.errorCode)
        deps.countError(interaction.action.split(':')[0] ?? '?', interaction.errorCode);
    };
    try {
      await next();
    } catch (error) {
      interaction.result = 'internal_error';
      interaction.errorId = requestId;
      interaction.errorCode = ErrorCode.Internal;
      deps.log.error({ err: error, requestId }, 'a Slack interaction failed outside its handler');
    } finally {
      interaction.seal();
    }
  };
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
  return {
    teamId: String(team.id ?? user.team_id ?? ''),
    userId: String(user.id ?? ''),
    channelId: String(channel.id ?? viewChannel ?? ''),
    ...(user.username || user.name ? { userName: String(user.username ?? user.name) } : {}),
    ...(channel.name ? { channelName: String(channel.name) } : {}),
  };
}

/** Modals opened from a command carry `{"channel":"C…"}` in private_metadata. */
export function channelFromView(body: Record<string, unknown>): string | undefined {
  const view = body.view as { private_metadata?: string } | undefined;
  if (!view?.private_metadata) return undefined;
  try {
    const meta = JSON.parse(view.private_metadata) as { channel?: unknown };
    return typeof meta.channel === 'string' && /^[CGD][A-Z0-9]{2,20}$/.test(meta.channel)
      ? meta.channel
      : undefined;
  } catch {
    return undefined;
  }
}
