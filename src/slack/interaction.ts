import type { AuditSink } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { CredentialProvider } from '../credentials/provider.js';
import { UserFacingError, userMessageFor } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestScope } from '../request-scope.js';
import type { Actor, CommandContext, CommandModule, CommandServices, Reply } from './command-spec.js';

/**
 * One command, button press or modal submission as it moves through the middleware: who, where,
 * which policy action, what was decided and how it ended. The audit middleware writes it out once.
 */
export interface Interaction {
  kind: 'command' | 'button' | 'view';
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
  module?: CommandModule;
  scope: RequestScope;
  /** Writes the audit event (once); called before the answer is sent, and at the end regardless. */
  seal(): void;
}

export interface PipelineDeps {
  commands: readonly CommandModule[];
  services: CommandServices;
  credentials: Pick<CredentialProvider, 'isConfigured' | 'secretName'>;
  audit: AuditSink;
  clock: Clock;
  log: Logger;
}

/** Where the middleware keeps the interaction on Bolt's `context`. */
export const INTERACTION = 'opsbotInteraction';

export function interactionOf(context: Record<string, unknown>): Interaction {
  const interaction = context[INTERACTION] as Interaction | undefined;
  if (!interaction) throw new Error('the audit middleware must run first');
  return interaction;
}

export function commandContext(
  interaction: Interaction,
  deps: PipelineDeps,
  triggerId?: string,
): CommandContext {
  return {
    actor: interaction.actor,
    requestId: interaction.requestId,
    action: interaction.action,
    isAdmin: deps.services.policy.isAdmin(interaction.actor.userId),
    ...(triggerId ? { triggerId } : {}),
    scope: interaction.scope,
    services: deps.services,
  };
}

/**
 * Turns a failure into what the user sees: a UserFacingError's own text, else a short apology
 * with the request id (the error itself is logged, redacted, under that id).
 */
export function failureReply(interaction: Interaction, error: unknown, log: Logger): Reply {
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
