import type {
  App,
  BlockAction,
  Middleware,
  SlackActionMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import type { IntegrationKey } from '../../integrations/integration.js';
import type { InteractionHandler, Reply } from '../command-spec.js';
import { publishHome } from '../home.js';
import {
  commandContext,
  failureReply,
  interactionOf,
  type PipelineDeps,
  type Progress,
  requireConfigured,
} from '../interaction.js';
import { checkAccess } from '../middleware/access.js';
import { auditInteraction, channelFromView } from '../middleware/audit.js';
import { answer, progressOf } from './answer.js';

/** Buttons and modals name their policy action in `action_id` / `callback_id`: `gh:rerun` (never `link:…`). */
export const INTERACTION_ID = /^(?!link:)[a-z][a-z0-9-]{0,20}:[a-z0-9][a-z0-9 -]{0,40}$/;
/** Buttons that only open a URL: acknowledged, nothing runs. */
export const LINK_ID = /^link:[a-z0-9-]{1,40}$/;
const MAX_VALUE = 2_000;

function isHome(args: ActionArgs): boolean {
  return (args.body as { view?: { type?: string } }).view?.type === 'home';
}

async function homeAnswer(args: ActionArgs, message: Reply, deps: PipelineDeps): Promise<void> {
  const interaction = interactionOf(args.context);
  interaction.seal();
  try {
    await publishHome(deps, interaction.actor, message.text);
  } catch (error) {
    deps.log.warn({ err: error }, 'could not publish App Home after a button');
  }
}

/** A button's value, or the value of the option chosen in a select menu. */
function actionValue(action: unknown): string {
  const a = action as { value?: unknown; selected_option?: { value?: unknown } };
  return String(a.value ?? a.selected_option?.value ?? '');
}

type ActionArgs = SlackActionMiddlewareArgs & { context: Record<string, unknown> };
type ViewArgs = SlackViewMiddlewareArgs & { context: Record<string, unknown> };

/**
 * Registers button presses and modal submissions: audit → ack → find the handler → access → run.
 * They are checked against the policy exactly like the command that made them: a button forwarded
 * into another channel or pressed by someone else is judged for that person, there.
 */
export function registerInteractions(app: App, deps: PipelineDeps): void {
  // A button in App Home has no response_url: the answer is shown by publishing Home again.
  const replyToAction = (args: ActionArgs, message: Reply) =>
    isHome(args) ? homeAnswer(args, message, deps) : answer(args, message, deps.log);
  // Link buttons (`link:…`, "Open in Datadog") open a URL in the browser; Slack still tells the app.
  app.action<BlockAction>({ type: 'block_actions', action_id: LINK_ID }, async ({ ack }) => {
    await ack();
  });
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
      const value = actionValue(args.action).slice(0, MAX_VALUE);
      const progress = progressOf(args, deps.log);
      const message = await runHandler(args.context, deps, value, progress, args.body.trigger_id);
      if (message) await replyToAction(args as ActionArgs, message);
    },
  );

  const replyToView = (args: ViewArgs, message: Reply) => {
    interactionOf(args.context).seal();
    return viewProgress(args, deps).finish(message);
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
      const values = JSON.stringify(args.view.state?.values ?? {}).slice(0, 20_000);
      const message = await runHandler(args.context, deps, values, viewProgress(args, deps));
      if (message) await replyToView(args, message);
    },
  );
}

async function runHandler(
  context: Record<string, unknown>,
  deps: PipelineDeps,
  value: string,
  progress: Progress,
  triggerId?: string,
): Promise<Reply | undefined> {
  const interaction = interactionOf(context);
  const handler = context.opsbotHandler as InteractionHandler<IntegrationKey>;
  try {
    if (interaction.module) requireConfigured(interaction.module, deps);
    await interaction.beforeSideEffect();
    return await handler(commandContext(interaction, deps, progress, triggerId), value);
  } catch (error) {
    return failureReply(interaction, error, deps.log);
  }
}

/**
 * A modal has no response_url: its answers go to the channel it was opened from (in private
 * metadata), in the channel or only to the submitter. Progress shows once, as an ephemeral message.
 */
function viewProgress(args: ViewArgs, deps: PipelineDeps): Progress {
  const interaction = interactionOf(args.context);
  const channel = channelFromView(args.body as unknown as Record<string, unknown>);
  let shown = false;
  const post = async (message: Reply) => {
    if (!channel) return;
    const content = { channel, text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) };
    try {
      if (message.responseType === 'in_channel') await deps.services.slack.postMessage(content);
      else await deps.services.slack.postEphemeral({ ...content, user: interaction.actor.userId });
    } catch (error) {
      deps.log.warn({ err: error }, 'could not answer a form');
    }
  };
  return {
    async update(message) {
      if (shown) return;
      shown = true;
      await post({ ...message, responseType: 'ephemeral' });
    },
    finish: post,
  };
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
