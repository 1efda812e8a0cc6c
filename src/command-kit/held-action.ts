import type { Actor, ArgValue, Reply, SourceMessage } from './command-spec.js';

/**
 * An action as the pipeline had it when it was allowed, parsed and about to run: enough to run it
 * again later, as the same person, from State alone (another replica, after a restart). Nothing of
 * Bolt: the Slack layer builds it, the approvals keep it, the Slack layer runs it.
 */
export type HeldAction = HeldCommand | HeldInteraction;

interface HeldBase {
  /** The policy action: `devenv:up`, `dd:mute`. */
  action: string;
  /** Who asked and where (the channel the policy judged it in). */
  actor: Actor;
  /** The arguments as the audit record names them (free text reduced to its length). */
  args: string;
}

/** A slash command: its text is routed, checked and parsed again when it runs. */
export interface HeldCommand extends HeldBase {
  kind: 'command';
  /** The command without its slash: `devenv`. */
  command: string;
  /** Everything after the slash command, as typed (without `--break-glass`). */
  text: string;
  /** The parsed arguments and flags by name, for the approval rules' `args`. */
  input: {
    args: Readonly<Record<string, ArgValue | undefined>>;
    flags: Readonly<Record<string, ArgValue | undefined>>;
  };
}

/** A button, a form or a message shortcut: its handler runs again with the same value. */
export interface HeldInteraction extends HeldBase {
  kind: 'button' | 'view' | 'shortcut';
  /** The value the handler gets: the button's value, the form's values (JSON), the message's text. */
  value: string;
  message?: SourceMessage;
  formMetadata?: Readonly<Record<string, string>>;
}

/** What the gate decided: run now (possibly as break glass), or held with the answer for the requester. */
export type GateDecision =
  | { run: true; breakGlass?: { reason: string } }
  /** `heldAs`: the request id when it was held (absent when it was refused outright). */
  | { run: false; reply: Reply; heldAs?: string };

/**
 * Decides, after access allowed an action and its arguments were read, whether it runs now or
 * waits for a second person (the approvals). The pipeline asks it for every command, button, form
 * and shortcut; no command knows about it.
 */
export interface ActionGate {
  /**
   * `breakGlass`: the reason the requester gave with `--break-glass` (commands only). Throws a
   * UserFacingError when the request cannot be held (nowhere to post it, State unavailable).
   */
  check(held: HeldAction, breakGlass?: string): Promise<GateDecision>;
}

/** An approved request, as the runner gets it: who approved it, which request. */
export interface Approval {
  /** The request id (`R-7K2M9QXA`): links the request, decision and run records. */
  id: string;
  /** The Slack user who approved it. */
  approvedBy: string;
}

/** How a held action ended when it ran: its audit outcome and the answer for the requester. */
export interface HeldRunResult {
  outcome: 'success' | 'denied' | 'error';
  reply: Reply;
}

/** Where a held action's progress and answer go when it runs later (no response_url by then). */
export interface HeldProgress {
  update(reply: Reply): Promise<void>;
}

/** Runs an approved action as its requester (implemented by the Slack layer, which owns the pipeline). */
export type HeldRunner = (
  held: HeldAction,
  approval: Approval,
  progress: HeldProgress,
) => Promise<HeldRunResult>;

/**
 * The approvals as the rest of the bot sees them: the gate the pipeline asks, the decisions and
 * the list behind `/opsbot approvals` and the request buttons, and which actions need approval
 * (help and App Home say so). A feature contributes it; the Slack layer gives it its runner.
 */
export interface ApprovalDesk extends ActionGate {
  runWith(runner: HeldRunner): void;
  decide(decision: 'approve' | 'deny' | 'cancel', id: string, by: Actor): Promise<Reply>;
  list(actor: Actor): Promise<Reply>;
  /** Of `actions`, those a rule holds: action → the rule in words (who approves, for how long). */
  heldActions(actions: readonly string[]): ReadonlyMap<string, string>;
  /** The rules' patterns that match none of `actions` (a typo holds nothing), one warning each. */
  unmatchedPatterns(actions: readonly string[]): string[];
}
