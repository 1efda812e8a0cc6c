import type {
  AllMiddlewareArgs,
  App,
  BlockAction,
  MessageShortcut,
  Middleware,
  SlackActionMiddlewareArgs,
  SlackShortcutMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import type {
  InteractionHandler,
  Reply,
  SourceMessage,
  ViewHandler,
} from '../../command-kit/command-spec.js';
import { ErrorCode } from '../../errors.js';
import type { IntegrationKey } from '../../integrations/integration.js';
import { publishHome } from '../home.js';
import {
  commandContext,
  failureReply,
  type InteractionSource,
  interactionOf,
  type PipelineDeps,
  type Progress,
  requireConfigured,
} from '../interaction.js';
import { checkAccess } from '../middleware/access.js';
import { auditInteraction, channelFromView, formMetadataOf, threadFromView } from '../middleware/audit.js';
import { gateDecision } from '../middleware/gate.js';
import { answer, progressOf } from './answer.js';

/** Buttons and modals name their policy action in `action_id` / `callback_id`: `gh:rerun` (never `link:…`). */
export const INTERACTION_ID = /^(?!link:)[a-z][a-z0-9-]{0,20}:[a-z0-9][a-z0-9 -]{0,40}$/;
/** Buttons that only open a URL: acknowledged, nothing runs. */
export const LINK_ID = /^link:[a-z0-9-]{1,40}$/;
const MAX_VALUE = 2_000;
/** How much of a message's text a shortcut hands its handler (a form field holds at most 3,000). */
const MAX_SHORTCUT_TEXT = 3_000;

/** A submitted form's values (`view.state.values`) as JSON, bounded. */
function valuesOf(args: SlackViewMiddlewareArgs): string {
  return JSON.stringify(args.view.state?.values ?? {}).slice(0, 20_000);
}

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

/** Bolt's own arguments of each listener, as its middleware gets them. */
type ActionArgs = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;
type ViewArgs = SlackViewMiddlewareArgs & AllMiddlewareArgs;
type ShortcutArgs = SlackShortcutMiddlewareArgs<MessageShortcut> & AllMiddlewareArgs;

const TS = /^\d{1,12}\.\d{1,8}$/;
/** The message a button (or message shortcut) was used on, as the signed payload names it. */
function sourceOf(body: Record<string, unknown>): SourceMessage | undefined {
  const channel = (body.channel as { id?: unknown } | undefined)?.id;
  const message = body.message as { ts?: unknown; thread_ts?: unknown } | undefined;
  const ts = message?.ts ?? (body.container as { message_ts?: unknown } | undefined)?.message_ts;
  if (typeof channel !== 'string' || typeof ts !== 'string' || !TS.test(ts)) return undefined;
  const thread = message?.thread_ts;
  return {
    channelId: channel,
    ts,
    ...(typeof thread === 'string' && TS.test(thread) && thread !== ts ? { threadTs: thread } : {}),
  };
}

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
    auditInteraction('button', deps),
    async ({ ack, next }) => {
      await ack();
      await next();
    },
    findHandler('actions', deps, replyToAction),
    checkAccess(deps, replyToAction),
    async (args) => {
      const value = actionValue(args.action).slice(0, MAX_VALUE);
      const progress = progressOf(args, deps.log);
      const message = await runHandler(args.context, deps, value, progress, {
        triggerId: args.body.trigger_id,
        message: sourceOf(args.body as unknown as Record<string, unknown>),
      });
      if (message) await replyToAction(args, message);
    },
  );

  const replyToView = (args: ViewArgs, message: Reply) => {
    interactionOf(args.context).seal();
    return viewProgress(args, deps).finish(message);
  };
  // A form is answered only after its check: errors keep it open, shown under their fields.
  app.view(
    { type: 'view_submission', callback_id: INTERACTION_ID },
    auditInteraction('view', deps),
    findHandler('views', deps, replyToView, { ackFirst: true }),
    async (args) => {
      const handler = args.context.opsbotHandler as ViewHandler<IntegrationKey>;
      let errors: Record<string, string> | undefined;
      try {
        errors = typeof handler === 'object' ? handler.check?.(valuesOf(args), deps.services) : undefined;
      } catch {
        // A form the check cannot read: closed, and its handler says what went wrong.
      }
      if (errors && Object.keys(errors).length > 0) {
        const interaction = interactionOf(args.context);
        interaction.result = 'user_error';
        interaction.errorCode = ErrorCode.UserInput;
        await args.ack({ response_action: 'errors', errors });
        return;
      }
      await args.ack();
      await args.next();
    },
    checkAccess(deps, replyToView),
    async (args) => {
      const message = await runHandler(args.context, deps, valuesOf(args), viewProgress(args, deps), {
        formMetadata: formMetadataOf(args.body as unknown as Record<string, unknown>),
      });
      if (message) await replyToView(args, message);
    },
  );

  // Message shortcuts ("Create Jira issue" on a message): judged in the message's channel.
  const replyToShortcut = (args: ShortcutArgs, message: Reply) => answer(args, message, deps.log);
  app.shortcut<MessageShortcut>(
    { type: 'message_action', callback_id: INTERACTION_ID },
    auditInteraction('shortcut', deps),
    async ({ ack, next }) => {
      await ack();
      await next();
    },
    findHandler('shortcuts', deps, replyToShortcut),
    checkAccess(deps, replyToShortcut),
    async (args) => {
      const text = String(args.shortcut.message?.text ?? '').slice(0, MAX_SHORTCUT_TEXT);
      const message = await runHandler(args.context, deps, text, progressOf(args, deps.log), {
        triggerId: args.shortcut.trigger_id,
        message: sourceOf(args.body as unknown as Record<string, unknown>),
      });
      if (message) await replyToShortcut(args, message);
    },
  );
}

async function runHandler(
  context: Record<string, unknown>,
  deps: PipelineDeps,
  value: string,
  progress: Progress,
  from: InteractionSource = {},
): Promise<Reply | undefined> {
  const interaction = interactionOf(context);
  const found = context.opsbotHandler as ViewHandler<IntegrationKey>;
  const handler: InteractionHandler<IntegrationKey> = typeof found === 'function' ? found : found.run;
  try {
    if (interaction.module) requireConfigured(interaction.module, deps);
    const held = await gateDecision(deps, interaction, {
      kind: interaction.kind === 'command' ? 'button' : interaction.kind,
      action: interaction.action,
      actor: interaction.actor,
      args: interaction.args,
      value,
      ...(from.message ? { message: from.message } : {}),
      ...(from.formMetadata ? { formMetadata: from.formMetadata } : {}),
    });
    if (held) return held;
    await interaction.beforeSideEffect();
    return await handler(commandContext(interaction, deps, progress, from), value);
  } catch (error) {
    return failureReply(interaction, error, deps.log);
  }
}

/**
 * A modal has no response_url: its answers go to the channel (and thread) it was opened from (in
 * private metadata), in the channel or only to the submitter. Progress shows once, as an ephemeral
 * message.
 */
function viewProgress(args: ViewArgs, deps: PipelineDeps): Progress {
  const interaction = interactionOf(args.context);
  const body = args.body as unknown as Record<string, unknown>;
  const channel = channelFromView(body);
  const threadTs = threadFromView(body);
  let shown = false;
  const post = async (message: Reply) => {
    if (!channel) return;
    const content = {
      channel,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      ...(threadTs ? { threadTs } : {}),
    };
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

type HandlerArgs = SlackActionMiddlewareArgs | SlackViewMiddlewareArgs | SlackShortcutMiddlewareArgs;

/** The policy action a button, form or shortcut names (`action_id` / `callback_id`). */
function interactionId(args: HandlerArgs): string {
  if ('action' in args) return String((args.action as { action_id?: string }).action_id ?? '');
  if ('view' in args) return String(args.view.callback_id ?? '');
  return String(args.shortcut.callback_id ?? '');
}

/**
 * Finds the command module's handler for the interaction's id, or answers that it is gone. Typed
 * over Bolt's own arguments of the listener it is given to, like {@link checkAccess}.
 */
function findHandler<Args extends HandlerArgs>(
  kind: 'actions' | 'views' | 'shortcuts',
  deps: PipelineDeps,
  reply: (args: Args & AllMiddlewareArgs, message: Reply) => Promise<void>,
  options: { ackFirst?: boolean } = {},
): Middleware<Args> {
  return async (args) => {
    const interaction = interactionOf(args.context);
    const id = interactionId(args);
    interaction.action = id;
    const [command] = id.split(':');
    const module = deps.commands.find((m) => m.name === command);
    const handler = module?.[kind]?.[id];
    if (!module || !handler) {
      interaction.result = 'user_error';
      if (options.ackFirst) await (args.ack as () => Promise<void>)();
      await reply(args, { text: 'That button or form is no longer supported. Run the command again.' });
      return;
    }
    interaction.module = module;
    args.context.opsbotHandler = handler;
    await args.next();
  };
}
