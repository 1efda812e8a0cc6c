import type { KnownBlock } from '@slack/web-api';
import type { AccessPolicy, MembershipCheck } from '../access/policy.js';
import type { Clock } from '../clock.js';
import type { OpsbotFile } from '../config.js';
import type { IntegrationApis, IntegrationKey } from '../integrations/integration.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { RequestScope } from '../request-scope.js';
import type { SecretRotation } from '../secret-rotation/service.js';
import type { State } from '../store/state.js';
import type { ApprovalDesk } from './held-action.js';

/**
 * The shape of a slash command module in `commands/`: its subcommands, each with an argument
 * grammar, usage and examples, and the handler that holds the conversation (parse → call → Block
 * Kit). The router, the generated help and the access policy all read this one declaration.
 * Write one with {@link defineCommand}, which types each handler's arguments and APIs.
 */
export interface CommandModule {
  /** The slash command without its slash: `gh`. */
  name: string;
  /** One line for the overview in `/opsbot help`. */
  description: string;
  /** The integrations whose APIs its handlers use; when one is not configured the command says so. */
  needs: readonly IntegrationKey[];
  subcommands: readonly AnySubcommand[];
  /** Buttons: `action_id` is the policy action (`gh:rerun`), checked like a command. */
  actions?: Readonly<Record<string, InteractionHandler<IntegrationKey>>>;
  /** Modal submissions: `callback_id` is the policy action. */
  views?: Readonly<Record<string, ViewHandler<IntegrationKey>>>;
  /** Message shortcuts: `callback_id` is the policy action; the value is the message's text. */
  shortcuts?: Readonly<Record<string, InteractionHandler<IntegrationKey>>>;
  /** Its section of opsbot's App Home, if it has one. */
  home?: HomeSection<IntegrationKey>;
  /** Buttons it offers on other features' messages (alert roots), while its integrations are configured. */
  alertActions?: readonly AlertAction[];
}

/**
 * A button a command offers on each alert root: its value is the root's key (never alert text),
 * and `action` is one of the command's own `actions`, which reads the root from State and checks
 * that the root is the message the button was pressed on. Alerts know nothing of who offers it.
 */
export interface AlertAction {
  label: string;
  /** The policy action and `action_id`: `jira:create`. */
  action: string;
}

/** The alert actions on offer now: those of commands whose integrations are all configured. */
export function offeredAlertActions(
  commands: readonly CommandModule[],
  configured: (name: IntegrationKey) => boolean,
): AlertAction[] {
  return commands.flatMap((m) => (m.alertActions && m.needs.every(configured) ? m.alertActions : []));
}

/**
 * A command's section of the App Home tab: shown, under its title, to whoever may run `action`
 * somewhere (admins always) while the command's integrations are configured. Its buttons are the
 * command's own `actions`, judged like any other.
 */
export interface HomeSection<N extends IntegrationKey = never> {
  title: string;
  /** The policy action a user must be allowed somewhere to see it (`devenv:list`). */
  action: string;
  /** The section's blocks for this user; a failure shows `unavailable` instead. */
  blocks(ctx: HomeContext<N>): Promise<KnownBlock[]>;
  /** Shown when `blocks` fails (the failure is logged). */
  unavailable: string;
}

export interface HomeContext<N extends IntegrationKey = never> {
  actor: Pick<Actor, 'userId' | 'teamId'>;
  apis: Pick<IntegrationApis, N>;
  /** Epoch ms. */
  now: number;
}

export type ValueKind = 'text' | 'user' | 'channel' | 'number' | 'duration' | 'choice' | 'boolean';

export interface ArgSpec {
  /** Shown in usage as `<name>` (or `[name]` when optional). */
  name: string;
  kind?: ValueKind;
  /** For `text`: what a valid value looks like. */
  pattern?: RegExp;
  /** The placeholder usage shows for it: `owner/repo`, `KEY-1`. */
  hint?: string;
  /**
   * What a valid value is, in words, with an example in backticks that the pattern accepts: "a
   * repository, like `acme/web`". A problem with the value is explained with it (`<repo> must be
   * a repository, like `acme/web``). Every argument or flag with a `pattern` has one.
   */
  accepts?: string;
  /** Typed in any case, read upper-cased before the pattern is checked: `ops-1` is `OPS-1`. */
  upperCase?: boolean;
  /**
   * For `text`: a Slack user (`@dev`, which Slack sends as `<@U0DEV|dev>`) is accepted too, as a
   * value the handler reads with `slackUserIn` (src/command-kit/parse-input.ts).
   */
  orSlackUser?: boolean;
  optional?: boolean;
  /** Takes every remaining word (free text such as a title or body). */
  rest?: boolean;
  /**
   * Unquoted, it takes every following word that is not a flag, as `rest` does (`/jira create OPS
   * fix the login page`); quoted, only the quoted text, and the words after it go to the next
   * argument (`/jira create OPS "Summary" description`).
   */
  wordsUnlessQuoted?: boolean;
  maxLength?: number;
  min?: number;
  max?: number;
  choices?: readonly string[];
}

export interface FlagSpec extends Omit<ArgSpec, 'optional' | 'rest' | 'wordsUnlessQuoted'> {
  /** `--limit N` or `limit=N`; flags are always optional. */
  description: string;
}

export type ArgValue = string | number | boolean;

/** The value an argument or flag parses to: its choice, a number (numbers, durations in ms), a boolean, or text. */
export type ValueOf<S> = S extends { choices: readonly (infer C)[] }
  ? C
  : S extends { kind: 'number' | 'duration' }
    ? number
    : S extends { kind: 'boolean' }
      ? boolean
      : string;

/** Positional arguments by name; an optional one may be undefined. Untyped specs give a plain record. */
export type ArgsOf<A extends readonly ArgSpec[]> = string extends A[number]['name']
  ? Record<string, ArgValue | undefined>
  : { [S in A[number] as S['name']]: S extends { optional: true } ? ValueOf<S> | undefined : ValueOf<S> };

/** Flags by name; always optional. */
export type FlagsOf<F extends readonly FlagSpec[]> = string extends F[number]['name']
  ? Record<string, ArgValue | undefined>
  : { [S in F[number] as S['name']]?: ValueOf<S> };

export interface ParsedInput<
  A extends readonly ArgSpec[] = readonly ArgSpec[],
  F extends readonly FlagSpec[] = readonly FlagSpec[],
> {
  args: ArgsOf<A>;
  flags: FlagsOf<F>;
}

export interface Subcommand<
  N extends IntegrationKey = IntegrationKey,
  A extends readonly ArgSpec[] = readonly ArgSpec[],
  F extends readonly FlagSpec[] = readonly FlagSpec[],
> {
  /** One or two words: `pr list`, `up`, `help`. The policy action is `<command>:<name>`. */
  name: string;
  summary: string;
  args?: A;
  flags?: F;
  /** Full text after the slash command: `pr list acme/web --state open`. */
  examples: readonly string[];
  /**
   * True when it only reads (lists, shows). Anything else is treated as having a side effect: its
   * intent is audited before it runs, and it is refused when that record cannot be written.
   * Buttons and forms always count as side effects.
   */
  readOnly?: boolean;
  /** The final answer, or undefined when the ack (or the last progress message) was answer enough. */
  run(ctx: CommandContext<N>, input: ParsedInput<A, F>): Promise<Reply | undefined>;
}

/** A subcommand with its types erased: what the router and help read. */
export type AnySubcommand = Subcommand<IntegrationKey, readonly ArgSpec[], readonly FlagSpec[]>;

export interface Reply {
  /** Plain-text fallback (notifications, screen readers); mrkdwn allowed. */
  text: string;
  blocks?: KnownBlock[];
  /** `ephemeral` (default): only the caller sees it; `in_channel`: a result meant for everyone. */
  responseType?: 'ephemeral' | 'in_channel';
  /** For a button: replace the message it was on. */
  replaceOriginal?: boolean;
}

/** The message a button or message shortcut was used on. */
export interface SourceMessage {
  channelId: string;
  ts: string;
  /** The thread it is in, when it is a reply. */
  threadTs?: string;
}

export interface Actor {
  teamId: string;
  userId: string;
  /** Where the policy judges the request: the channel, or for a DM / App Home button, the channel it belongs to. */
  channelId: string;
  /** Set when a button was pressed in a DM with opsbot (`D…`) or App Home (`home`). */
  surface?: string;
  userName?: string;
  channelName?: string;
}

/** What every handler gets, whatever integrations it uses (never SDK classes). */
export interface CoreServices {
  state: State;
  policy: AccessPolicy;
  membership: MembershipCheck;
  slack: SlackApi;
  clock: Clock;
  file: OpsbotFile;
  /** Whether an integration is configured now (its secret exists, or its role is set). */
  configured(name: IntegrationKey): boolean;
  /** Every registered command (for generated help). */
  commands: readonly CommandModule[];
  /** opsbot's secrets: their inventory, and rotations (`/opsbot secrets`, `/opsbot rotate`). */
  secretRotation?: SecretRotation;
  /** The configuration file's path (`OPSBOT_CONFIG`): `/opsbot access review` proposes a change to it. */
  configPath?: string;
  /** What opsbot's own credential for an integration may do, as the vendor reports it (the access review). */
  grants?(name: IntegrationKey): Promise<Readonly<Record<string, string>> | undefined>;
  /** Approvals by a second person (`approvals:`), when a feature provides them. */
  approvals?: ApprovalDesk;
}

/** Who asked, where, the core services, and the APIs of exactly the integrations the command needs. */
export interface CommandContext<N extends IntegrationKey = never> {
  actor: Actor;
  requestId: string;
  /** `gh:pr list`. */
  action: string;
  isAdmin: boolean;
  triggerId?: string;
  /** For a button or a message shortcut: the message it was used on. */
  message?: SourceMessage;
  /** For a form: the strings opsbot stored in it when it opened it (private_metadata). */
  formMetadata?: Readonly<Record<string, string>>;
  /** Pass to integration calls so the audit record names the credential versions used. */
  scope: RequestScope;
  services: CoreServices;
  apis: Pick<IntegrationApis, N>;
  /**
   * Shows progress before the final answer: the first call posts a message, later calls replace it,
   * and the handler's returned reply replaces it once more. Slack allows a command's response_url
   * five uses: updates beyond the budget (one use is kept for the final answer) are dropped.
   */
  progress(reply: Reply): Promise<void>;
}

export type InteractionHandler<N extends IntegrationKey = never> = (
  ctx: CommandContext<N>,
  value: string,
) => Promise<Reply | undefined>;

/**
 * A modal submission's handler. `check` runs before Slack is answered: the errors it returns (by
 * input block id) are shown inline in the still-open form (`response_action: errors`) and nothing
 * runs. Without errors the form closes and `run` gets the values.
 */
export type ViewHandler<N extends IntegrationKey = never> =
  | InteractionHandler<N>
  | {
      check?: (values: string, services: CoreServices) => Record<string, string> | undefined;
      run: InteractionHandler<N>;
    };

/** Declares one subcommand of a command that needs the integrations `N`, its input typed from its spec. */
export type SubcommandBuilder<N extends IntegrationKey> = <
  const A extends readonly ArgSpec[] = [],
  const F extends readonly FlagSpec[] = [],
>(
  spec: Subcommand<N, A, F>,
) => AnySubcommand;

export interface CommandDefinition<N extends readonly IntegrationKey[]> {
  name: string;
  description: string;
  needs?: N;
  subcommands: (sub: SubcommandBuilder<N[number]>) => readonly AnySubcommand[];
  actions?: Record<string, InteractionHandler<N[number]>>;
  views?: Record<string, ViewHandler<N[number]>>;
  shortcuts?: Record<string, InteractionHandler<N[number]>>;
  home?: HomeSection<N[number]>;
  alertActions?: readonly AlertAction[];
}

/**
 * Declares a slash command. Handlers get `ctx.apis` with exactly the integrations in `needs`, and
 * `input.args` / `input.flags` typed from each subcommand's own spec (no casts).
 *
 * @example
 * export const gh = defineCommand({
 *   name: 'gh', description: 'GitHub', needs: ['github'],
 *   subcommands: (sub) => [
 *     sub({
 *       name: 'pr', summary: 'one pull request', examples: ['pr acme/web#42'],
 *       args: [{ name: 'pr', pattern: REF, hint: 'owner/repo#N' }],
 *       run: async (ctx, input) => show(await ctx.apis.github.getPull(ref(input.args.pr), ctx.scope)),
 *     }),
 *   ],
 * });
 */
export function defineCommand<const N extends readonly IntegrationKey[] = []>(
  definition: CommandDefinition<N>,
): CommandModule {
  const sub: SubcommandBuilder<N[number]> = (spec) => spec as unknown as AnySubcommand;
  return {
    name: definition.name,
    description: definition.description,
    needs: definition.needs ?? [],
    subcommands: definition.subcommands(sub),
    ...(definition.actions ? { actions: definition.actions as CommandModule['actions'] } : {}),
    ...(definition.views ? { views: definition.views as CommandModule['views'] } : {}),
    ...(definition.shortcuts ? { shortcuts: definition.shortcuts as CommandModule['shortcuts'] } : {}),
    ...(definition.home ? { home: definition.home as CommandModule['home'] } : {}),
    ...(definition.alertActions ? { alertActions: definition.alertActions } : {}),
  };
}
