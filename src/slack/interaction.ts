import type { RespondFn } from '@slack/bolt';
import type { AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type {
  Actor,
  CommandContext,
  CommandModule,
  CoreServices,
  Reply,
  SourceMessage,
} from '../command-kit/command-spec.js';
import type { ActionGate, Approval } from '../command-kit/held-action.js';
import { ErrorCode, OpsbotError, UserFacingError, userMessageFor } from '../errors.js';
import type { IntegrationKey } from '../integrations/integration.js';
import type { BuiltIntegrations } from '../integrations/registry.js';
import type { Logger } from '../log.js';
import type { RequestScope } from '../request-scope.js';

/**
 * One command, button press or modal submission as it moves through the middleware: who, where,
 * which policy action, what was decided and how it ended. The audit middleware writes it out once.
 */
export interface Interaction {
  kind: 'command' | 'button' | 'view' | 'shortcut';
  requestId: string;
  startedAt: number;
  actor: Actor;
  /** `gh:pr list`; `gh:?` while (or when) the subcommand is unknown. */
  action: string;
  /** Argument names and short values, free text reduced to its length, secrets redacted. */
  args: string;
  decision: 'pending' | 'allowed' | 'denied';
  result: 'ok' | 'user_error' | 'internal_error';
  errorId?: string;
  /** The code of the error that ended it (`opsbot_rate_limited`…), for the audit record and metrics. */
  errorCode?: string;
  module?: CommandModule;
  scope: RequestScope;
  /** Set when it runs because a second person approved it: the request and the approver. */
  approval?: Approval;
  /** Set when it was held for approval instead of running: the request id. */
  heldAs?: string;
  /** Set when an admin ran an approval-gated action at once: their reason. */
  breakGlass?: string;
  /** Writes the audit event (once); called before the final answer is sent, and at the end regardless. */
  seal(): void;
  /**
   * Called before a handler with a side effect runs (not for read-only subcommands): resolves once
   * the intent is stored in the audit trail, or throws a UserFacingError (AuditUnavailableError)
   * refusing it. Calling it again waits for the same intent record.
   */
  beforeSideEffect(): Promise<void>;
}

/** Counts failed interactions by command and error code (`opsbot_interaction_errors_total`). */
export type ErrorCounter = (command: string, code: string) => void;

export interface PipelineDeps {
  commands: readonly CommandModule[];
  services: CoreServices;
  integrations: Pick<BuiltIntegrations, 'apis' | 'isConfigured' | 'notConfigured'>;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
  countError: ErrorCounter;
  /** Decides whether an allowed action runs now or waits for approval (absent: everything runs). */
  gate?: ActionGate;
}

/** Where the middleware keeps the interaction on Bolt's `context`. */
export const INTERACTION = 'opsbotInteraction';

export function interactionOf(context: Record<string, unknown>): Interaction {
  const interaction = context[INTERACTION] as Interaction | undefined;
  if (!interaction) throw new Error('the audit middleware must run first');
  return interaction;
}

/** Refuses to run a command whose integration is not configured, naming what to add. */
export function requireConfigured(module: CommandModule, deps: Pick<PipelineDeps, 'integrations'>): void {
  for (const name of module.needs) {
    if (!deps.integrations.isConfigured(name)) throw deps.integrations.notConfigured(name);
  }
}

/** Where a handler's interaction came from, beyond the actor: what buttons, shortcuts and forms carry. */
export interface InteractionSource {
  triggerId?: string | undefined;
  message?: SourceMessage | undefined;
  formMetadata?: Readonly<Record<string, string>> | undefined;
}

/** The handler's context: core services plus the APIs of exactly the integrations its command needs. */
export function commandContext(
  interaction: Interaction,
  deps: PipelineDeps,
  progress: Progress,
  from: InteractionSource = {},
): CommandContext<IntegrationKey> {
  const { triggerId, message, formMetadata } = from;
  const needs = interaction.module?.needs ?? [];
  const apis = Object.fromEntries(needs.map((name) => [name, deps.integrations.apis[name]]));
  return {
    actor: interaction.actor,
    requestId: interaction.requestId,
    action: interaction.action,
    isAdmin: deps.services.policy.isAdmin(interaction.actor.userId),
    ...(triggerId ? { triggerId } : {}),
    ...(message ? { message } : {}),
    ...(formMetadata ? { formMetadata } : {}),
    scope: interaction.scope,
    services: deps.services,
    // Only the integrations the command declared; its handlers' types name no others.
    apis: apis as CommandContext<IntegrationKey>['apis'],
    progress: (reply) => progress.update(reply),
  };
}

/**
 * Turns a failure into what the user sees: a UserFacingError's own text, else a short apology
 * with the request id (the error itself is logged, redacted, under that id). Either way the
 * interaction carries the error's code for the audit record and the error metric.
 */
export function failureReply(interaction: Interaction, error: unknown, log: Logger): Reply {
  interaction.errorCode = error instanceof OpsbotError ? error.code : ErrorCode.Internal;
  if (error instanceof UserFacingError) {
    interaction.result = 'user_error';
    return { text: error.message };
  }
  interaction.result = 'internal_error';
  interaction.errorId = interaction.requestId;
  log.error(
    { err: error, requestId: interaction.requestId, action: interaction.action },
    'a Slack interaction failed',
  );
  return { text: `:warning: ${userMessageFor(error, interaction.requestId)}` };
}

/** A handler's messages through one response_url: progress updates, then the final answer. */
export interface Progress {
  update(reply: Reply): Promise<void>;
  /** The final answer: replaces the progress message when there was one. */
  finish(reply: Reply): Promise<void>;
}

/** Slack lets a response_url be used five times; one use is always kept for the final answer. */
const RESPONSE_URL_USES = 5;

/**
 * Progress over a response_url (commands and buttons): the first update posts, later ones and the
 * final answer replace it. Updates beyond the budget are dropped (the final answer still goes out).
 */
export function responseUrlProgress(respond: RespondFn | undefined, log: Logger): Progress {
  let used = 0;
  let posted = false;
  const send = async (reply: Reply, replace: boolean) => {
    if (!respond) return;
    used++;
    await respond({
      text: reply.text,
      ...(reply.blocks ? { blocks: reply.blocks } : {}),
      response_type: reply.responseType ?? 'ephemeral',
      replace_original: replace,
    });
  };
  return {
    async update(reply) {
      if (used >= RESPONSE_URL_USES - 1) return;
      try {
        await send(reply, posted);
        posted = true;
      } catch (error) {
        log.warn({ err: error }, 'could not show progress through the response_url');
      }
    },
    async finish(reply) {
      await send(reply, posted || reply.replaceOriginal === true);
    },
  };
}
