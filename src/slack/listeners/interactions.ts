import type {
  App,
  BlockAction,
  Middleware,
  SlackActionMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import type { InteractionHandler, Reply } from '../command-spec.js';
import { commandContext, failureReply, interactionOf, type PipelineDeps } from '../interaction.js';
import { checkAccess, respondWith } from '../middleware/access.js';
import { auditInteraction, channelFromView } from '../middleware/audit.js';

/** Buttons and modals name their policy action in `action_id` / `callback_id`: `gh:rerun`. */
export const INTERACTION_ID = /^[a-z][a-z0-9-]{0,20}:[a-z0-9][a-z0-9 -]{0,40}$/;
const MAX_VALUE = 2_000;

/**
 * Registers button presses and modal submissions: audit → ack → find the handler → access → run.
 * They are checked against the policy exactly like the command that made them: a button forwarded
 * into another channel or pressed by someone else is judged for that person, there.
 */
export function registerInteractions(app: App, deps: PipelineDeps): void {
  const replyToAction = (
    args: SlackActionMiddlewareArgs & { context: Record<string, unknown> },
    message: Reply,
  ) => {
    interactionOf(args.context).seal();
    return safe(() => respondWith(args.respond, message), deps);
  };
  app.action<BlockAction>(
    { type: 'block_actions', action_id: INTERACTION_ID },
    auditInteraction('button', deps) as Middleware<SlackActionMiddlewareArgs<BlockAction>>,
    async ({ ack, next }) => {
      await ack();
      await next();
    },
    findHandler('actions', deps, replyToAction as never) as Middleware<
      SlackActionMiddlewareArgs<BlockAction>
    >,
    checkAccess(deps, replyToAction as never) as Middleware<SlackActionMiddlewareArgs<BlockAction>>,
    async (args) => {
      const interaction = interactionOf(args.context);
      const handler = args.context.opsbotHandler as InteractionHandler;
      const value = String((args.action as { value?: string }).value ?? '').slice(0, MAX_VALUE);
      let message: Reply | undefined;
      try {
        message = await handler(commandContext(interaction, deps, args.body.trigger_id), value);
      } catch (error) {
        message = failureReply(interaction, error, deps.log);
      }
      if (message)
        await replyToAction(
          args as SlackActionMiddlewareArgs & { context: Record<string, unknown> },
          message,
        );
    },
  );

  const replyToView = (
    args: SlackViewMiddlewareArgs & { context: Record<string, unknown> },
    message: Reply,
  ) => {
    const interaction = interactionOf(args.context);
    interaction.seal();
    const channel = channelFromView(args.body as unknown as Record<string, unknown>);
    if (!channel) return Promise.resolve();
    const content = { channel, text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) };
    return safe(
      () =>
        message.responseType === 'in_channel'
          ? deps.services.slack.postMessage(content).then(() => undefined)
          : deps.services.slack.postEphemeral({ ...content, user: interaction.actor.userId }),
      deps,
    );
  };
  app.view(
    { type: 'view_submission', callback_id: INTERACTION_ID },
    auditInteraction('view', deps) as Middleware<SlackViewMiddlewareArgs>,
    async ({ ack, next }) => {
      await ack();
      await next();
    },
    findHandler('views', deps, replyToView as never) as Middleware<SlackViewMiddlewareArgs>,
    checkAccess(deps, replyToView as never) as Middleware<SlackViewMiddlewareArgs>,
    async (args) => {
      const interaction = interactionOf(args.context);
      const handler = args.context.opsbotHandler as InteractionHandler;
      const values = JSON.stringify(args.view.state?.values ?? {}).slice(0, 20_000);
      let message: Reply | undefined;
      try {
        message = await handler(commandContext(interaction, deps), values);
      } catch (error) {
        message = failureReply(interaction, error, deps.log);
      }
      if (message) await replyToView(args, message);
    },
  );
}

function findHandler(
  kind: 'actions' | 'views',
  deps: PipelineDeps,
  reply: (args: SlackActionMiddlewareArgs | SlackViewMiddlewareArgs, message: Reply) => Promise<void>,
): Middleware<SlackActionMiddlewareArgs | SlackViewMiddlewareArgs> {
  return async (args) => {
    const interaction = interactionOf(args.context);
    const id =
      'action' in args
        ? String((args.action as { action_id?: string }).action_id ?? '')
        : String(args.view.callback_id ?? '');
    interaction.action = id;
    const [command] = id.split(':');
    const module = deps.commands.find((m) => m.name === command);
    const handler = module?.[kind]?.[id];
    if (!module || !handler) {
      interaction.result = 'user_error';
      await reply(args, { text: 'That button or form is no longer supported. Run the command again.' });
      return;
    }
    interaction.module = module;
    args.context.opsbotHandler = handler;
    await args.next();
  };
}

async function safe(fn: () => Promise<void>, deps: Pick<PipelineDeps, 'log'>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    deps.log.warn({ err: error }, 'could not answer a button or form');
  }
}
