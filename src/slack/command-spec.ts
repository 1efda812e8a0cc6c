import type { KnownBlock } from '@slack/web-api';
import type { AccessPolicy, MembershipCheck } from '../access/policy.js';
import type { Clock } from '../clock.js';
import type { IntegrationName, OpsbotFile } from '../config.js';
import type { GitHubApi } from '../integrations/github.js';
import type { RequestScope } from '../request-scope.js';
import type { State } from '../store/state.js';
import type { SlackApi } from './slack-api.js';

/**
 * The shape of a slash command module in `commands/`: its subcommands, each with an argument
 * grammar, usage and examples, and the handler that holds the conversation (parse → call → Block
 * Kit). The router, the generated help and the access policy all read this one declaration.
 */
export interface CommandModule {
  /** The slash command without its slash: `gh`. */
  name: string;
  /** One line for the overview in `/opsbot help`. */
  description: string;
  /** The integration whose secret the command needs; when it is not configured the command says so. */
  integration?: IntegrationName;
  subcommands: Subcommand[];
  /** Buttons: `action_id` is the policy action (`gh:rerun`), checked like a command. */
  actions?: Record<string, InteractionHandler>;
  /** Modal submissions: `callback_id` is the policy action. */
  views?: Record<string, InteractionHandler>;
}

export type ValueKind = 'text' | 'user' | 'channel' | 'number' | 'duration' | 'choice' | 'boolean';

export interface ArgSpec {
  /** Shown in usage as `<name>` (or `[name]` when optional). */
  name: string;
  kind?: ValueKind;
  /** For `text`: what a valid value looks like, and how to say it (`owner/repo`). */
  pattern?: RegExp;
  hint?: string;
  optional?: boolean;
  /** Takes every remaining word (free text such as a title or body). */
  rest?: boolean;
  maxLength?: number;
  min?: number;
  max?: number;
  choices?: readonly string[];
}

export interface FlagSpec extends Omit<ArgSpec, 'optional' | 'rest'> {
  /** `--limit N` or `limit=N`; flags are always optional. */
  description: string;
}

export type ArgValue = string | number | boolean;

export interface ParsedInput {
  args: Record<string, ArgValue | undefined>;
  flags: Record<string, ArgValue | undefined>;
}

export interface Subcommand {
  /** One or two words: `pr list`, `up`, `help`. The policy action is `<command>:<name>`. */
  name: string;
  summary: string;
  args?: ArgSpec[];
  flags?: FlagSpec[];
  /** Full text after the slash command: `pr list acme/web --state open`. */
  examples: string[];
  /** The answer, or undefined when the ack was answer enough. */
  run(ctx: CommandContext, input: ParsedInput): Promise<Reply | undefined>;
}

export interface Reply {
  /** Plain-text fallback (notifications, screen readers); mrkdwn allowed. */
  text: string;
  blocks?: KnownBlock[];
  /** `ephemeral` (default): only the caller sees it; `in_channel`: a result meant for everyone. */
  responseType?: 'ephemeral' | 'in_channel';
  /** For a button: replace the message it was on. */
  replaceOriginal?: boolean;
}

export interface Actor {
  teamId: string;
  userId: string;
  channelId: string;
  userName?: string;
  channelName?: string;
}

/** What every handler gets: who asked, where, and the services it may use (never SDK classes). */
export interface CommandContext {
  actor: Actor;
  requestId: string;
  /** `gh:pr list`. */
  action: string;
  isAdmin: boolean;
  triggerId?: string;
  /** Pass to integration calls so the audit record names the credential versions used. */
  scope: RequestScope;
  services: CommandServices;
}

export interface CommandServices {
  state: State;
  policy: AccessPolicy;
  membership: MembershipCheck;
  slack: SlackApi;
  github: GitHubApi;
  clock: Clock;
  file: OpsbotFile;
  /** Every registered command (for generated help). */
  commands: readonly CommandModule[];
}

export type InteractionHandler = (ctx: CommandContext, value: string) => Promise<Reply | undefined>;
