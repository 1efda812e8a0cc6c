import type { MembershipCheck } from '../access/policy.js';
import type { AuditEvent } from '../audit/records.js';
import type { AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { Actor, Reply } from '../command-kit/command-spec.js';
import type {
  ApprovalDesk,
  GateDecision,
  HeldAction,
  HeldProgress,
  HeldRunner,
} from '../command-kit/held-action.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { Logger } from '../log.js';
import type { SecurityReporter } from '../security/detection.js';
import { section } from '../slack/blocks.js';
import type { MessageRefStore } from '../store/state.js';
import { channelMention, inlineCode, truncate, userMention } from '../text/escape.js';
import {
  APPROVE_ACTION,
  approversText,
  CANCEL_ACTION,
  DENY_ACTION,
  heldReply,
  requestMessage,
  resultReply,
  slackTime,
  whatText,
} from './message.js';
import { MAX_OPEN, OpenRequestIndex } from './open-index.js';
import {
  type ApprovalRequest,
  ApprovalRequests,
  type Approvers,
  newRequestId,
  type RequestStatus,
  type StoredRequest,
} from './request.js';
import {
  type ApprovalRule,
  approvalRuleFor,
  approvalRulePatternsUnmatched,
  heldActions,
  isApprover,
} from './rules.js';

/** Actions the approvals themselves answer: never held, whatever a rule says. */
const OWN_ACTIONS = new Set([APPROVE_ACTION, DENY_ACTION, CANCEL_ACTION, 'opsbot:approvals']);
/** Open requests one person may have at once. */
export const MAX_OPEN_PER_REQUESTER = 10;

export type Decision = 'approve' | 'deny' | 'cancel';

export interface ApprovalsDeps {
  /** `approvals:` of the configuration file. */
  rules: readonly ApprovalRule[];
  refs: Pick<MessageRefStore, 'get' | 'putIfAbsent' | 'compareAndSet'>;
  slack: Pick<SlackApi, 'postMessage' | 'updateMessage'>;
  membership: MembershipCheck;
  isAdmin(userId: string): boolean;
  audit: AuditTrail;
  /** Break glass is reported here (the security channel), marked for review. */
  reporter?: SecurityReporter;
  /** Where a request asked in a DM is posted when its rule names no channel (`security.channel`). */
  fallbackChannel?: string;
  clock: Clock;
  log: Logger;
}

/**
 * Two people for risky actions (README, "Approvals"). As the pipeline's gate it holds every action
 * an `approvals:` rule names (after access allowed it and its arguments were read): the request is
 * stored in State, posted with Approve / Deny / Cancel where approvers see it, and the requester is
 * told. The first valid decision wins across replicas and restarts (compare-and-set); an approval
 * runs the action once, as the requester, through the runner the Slack layer gives it. Every step
 * is its own audit record, linked by the request id.
 */
export class Approvals implements ApprovalDesk {
  readonly #d: ApprovalsDeps;
  readonly #requests: ApprovalRequests;
  readonly #open: OpenRequestIndex;
  #runner: HeldRunner | undefined;

  constructor(deps: ApprovalsDeps) {
    this.#d = deps;
    this.#requests = new ApprovalRequests(deps.refs);
    this.#open = new OpenRequestIndex(deps.refs, () => deps.clock.now());
  }

  /** The Slack layer's runner (built after the pipeline, which needs this gate first). */
  runWith(runner: HeldRunner): void {
    this.#runner = runner;
  }

  unmatchedPatterns(actions: readonly string[]): string[] {
    return approvalRulePatternsUnmatched(this.#d.rules, actions);
  }

  heldActions(actions: readonly string[]): ReadonlyMap<string, string> {
    return heldActions(
      this.#d.rules,
      actions.filter((a) => !OWN_ACTIONS.has(a)),
    );
  }

  async check(held: HeldAction, breakGlass?: string): Promise<GateDecision> {
    const found = OWN_ACTIONS.has(held.action)
      ? undefined
      : approvalRuleFor(this.#d.rules, held.action, held.kind === 'command' ? held.input : undefined);
    if (breakGlass !== undefined) return this.#breakGlass(held, breakGlass, found !== undefined);
    if (!found) return { run: true };
    return this.#hold(held, found.rule);
  }

  async #breakGlass(held: HeldAction, reason: string, gated: boolean): Promise<GateDecision> {
    if (!gated)
      return {
        run: false,
        reply: {
          text: `${inlineCode(held.action, 60)} does not need approval here: run it without \`--break-glass\`.`,
        },
      };
    if (!this.#d.isAdmin(held.actor.userId))
      return {
        run: false,
        reply: {
          text: ':no_entry: Only opsbot admins may use `--break-glass`. Run it without the flag to ask for approval.',
        },
      };
    const at = new Date(this.#d.clock.now()).toISOString();
    // Stored before it runs: a break glass that cannot be recorded does not happen.
    const record = await this.#d.audit.record({
      action: 'approval:break-glass',
      actor: held.actor.userId,
      outcome: 'success',
      details: { for: held.action, args: held.args || undefined, channel: held.actor.channelId, reason },
    });
    void this.#d.reporter
      ?.report({
        rule: 'breakGlass',
        key: `breakGlass:${record.seq}`,
        title: `${held.action} was run without approval (break glass): ${reason}`,
        actor: held.actor.userId,
        at,
        evidence: [record.seq],
        details: { action: held.action, channel: held.actor.channelId, review: 'pending' },
      })
      .catch((error: unknown) => this.#d.log.error({ err: error }, 'a break glass could not be reported'));
    return { run: true, breakGlass: { reason } };
  }

  async #hold(held: HeldAction, rule: ApprovalRule): Promise<GateDecision> {
    const d = this.#d;
    const channel =
      rule.channel ?? (held.actor.channelId.startsWith('D') ? d.fallbackChannel : held.actor.channelId);
    if (!channel)
      throw new UserFacingError(
        `${inlineCode(held.action, 60)} needs approval, and a request asked in a direct message has nowhere to go: run it in a channel where the approvers are, or ask an opsbot admin to give the approval rule a \`channel\`.`,
        { code: ErrorCode.UserInput },
      );
    const open = d.clock.now();
    const mine = (await this.#open.list()).filter(
      (e) => e.requester === held.actor.userId && e.expiresAt > open,
    );
    if (mine.length >= MAX_OPEN_PER_REQUESTER)
      throw new UserFacingError(
        `You have ${mine.length} requests waiting for approval: cancel some (\`/opsbot approvals\`) before asking again.`,
        { code: ErrorCode.RateLimited },
      );
    const approvers: Approvers = {
      users: rule.approvers.users ?? [],
      usergroups: rule.approvers.usergroups ?? [],
    };
    let stored: StoredRequest | undefined;
    for (let attempt = 0; attempt < 3 && !stored; attempt++) {
      stored = await this.#requests.create(
        {
          id: newRequestId(),
          held,
          approvers,
          requestedAt: open,
          expiresAt: open + rule.expires,
          status: 'open',
        },
        open,
      );
    }
    if (!stored) throw new Error('could not draw a free request id');
    const { request } = stored;
    if (
      !(await this.#open.add({ id: request.id, requester: held.actor.userId, expiresAt: request.expiresAt }))
    ) {
      await this.#close(stored, 'cancelled', 'opsbot');
      throw new UserFacingError(
        `${MAX_OPEN} requests are waiting for approval already: ask an approver to decide some (\`/opsbot approvals\`).`,
        { code: ErrorCode.RateLimited },
      );
    }
    // The request is a record of its own before anyone can see it.
    await d.audit.record({
      action: 'approval:request',
      actor: held.actor.userId,
      outcome: 'success',
      details: {
        request: request.id,
        for: held.action,
        args: held.args || undefined,
        channel: held.actor.channelId,
        postedIn: channel,
        expiresAt: new Date(request.expiresAt).toISOString(),
      },
    });
    let posted: { channel: string; ts: string };
    try {
      posted = await d.slack.postMessage({ channel, ...requestMessage(request) });
    } catch (error) {
      d.log.warn({ err: error, request: request.id }, 'could not post an approval request');
      await this.#close(stored, 'cancelled', 'opsbot');
      throw new UserFacingError(
        `${inlineCode(held.action, 60)} needs approval, but opsbot could not post the request in ${channelMention(channel)}: invite opsbot there (\`/invite @opsbot\`) and try again.`,
        { code: ErrorCode.UpstreamUnavailable, cause: error },
      );
    }
    // Where the message is, for later updates; if a decision came first, the next update finds it.
    const placed = await this.#requests.update(stored, request, posted);
    if (!placed) {
      const now = await this.#requests.get(request.id);
      const here = now && (await this.#requests.update(now, now.request, posted).catch(() => undefined));
      // Decided before it was placed: that decision could not update the message, so show it now.
      if (here && here.request.status !== 'open') await this.#show(here);
    }
    return { run: false, reply: heldReply(request, channel), heldAs: request.id };
  }

  /**
   * A press of Approve, Deny or Cancel: the requester never approves their own request, only an
   * approver decides, only the requester cancels, and the first valid decision wins. An approval
   * runs the action (as the requester) before this answers the approver.
   */
  async decide(decision: Decision, id: string, by: Actor): Promise<Reply> {
    const d = this.#d;
    const stored = await this.#requests.get(id);
    if (!stored)
      return {
        text: `Request ${inlineCode(id, 20)} is not known (requests are kept a week after they expire).`,
      };
    const { request } = stored;
    const refuse = async (why: string, text: string) => {
      await this.#record({
        action: 'approval:decision',
        actor: by.userId,
        outcome: 'denied',
        details: {
          request: request.id,
          for: request.held.action,
          decision,
          requester: request.held.actor.userId,
          why,
        },
      });
      return { text: `:no_entry: ${text}` };
    };
    if (request.status !== 'open') return { text: closedText(request) };
    if (d.clock.now() >= request.expiresAt) {
      await this.#close(stored, 'expired', 'opsbot');
      return {
        text: `Request ${inlineCode(id, 20)} expired ${slackTime(request.expiresAt)}; nothing ran. Ask again if it is still needed.`,
      };
    }
    const requester = request.held.actor.userId;
    const own = by.userId === requester;
    if (decision === 'cancel' && !own)
      return refuse(
        'not the requester',
        `Only ${userMention(requester)}, who asked, can cancel this request.`,
      );
    if (decision === 'approve' && own)
      return refuse('self-approval', 'You cannot approve your own request: one of the approvers must.');
    const mayDecide =
      decision === 'cancel' ||
      (own && decision === 'deny') ||
      (await isApprover(request, by.userId, d.membership, (error) =>
        d.log.warn({ err: error }, 'could not check an approver’s user groups'),
      ));
    if (!mayDecide)
      return refuse(
        'not an approver',
        `You are not one of this request's approvers (${approversText(request.approvers)}).`,
      );
    const status: RequestStatus =
      decision === 'approve' ? 'approved' : decision === 'deny' && !own ? 'denied' : 'cancelled';
    let closed = await this.#close(stored, status, by.userId);
    for (let again = 0; !closed && again < 3; again++) {
      // Still open: only where its message is changed meanwhile (the post being placed), so decide on that.
      const now = await this.#requests.get(id);
      if (now?.request.status !== 'open')
        return { text: now ? closedText(now.request) : 'That request was just closed by someone else.' };
      closed = await this.#close(now, status, by.userId);
    }
    if (!closed) return { text: `Request ${inlineCode(id, 20)} kept changing: press the button again.` };
    if (status !== 'approved') return { text: closedText(closed.request) };
    const outcome = await this.#run(closed);
    return { text: closedText(outcome.request) };
  }

  /** Runs an approved request once (this replica won the decision) and records how it ended. */
  async #run(stored: StoredRequest): Promise<StoredRequest> {
    const d = this.#d;
    const { request } = stored;
    const progress = this.#threadProgress(stored);
    let result: Awaited<ReturnType<HeldRunner>>;
    if (!this.#runner)
      result = {
        outcome: 'error',
        reply: { text: 'opsbot could not run it: its runner is not ready. Ask again.' },
      };
    else {
      try {
        result = await this.#runner(
          request.held,
          { id: request.id, approvedBy: request.decidedBy as string },
          progress,
        );
      } catch (error) {
        d.log.error({ err: error, request: request.id }, 'an approved request failed to run');
        result = { outcome: 'error', reply: { text: `It failed to run (request ${request.id}).` } };
      }
    }
    await progress.finish(result.reply);
    const ran: ApprovalRequest = { ...request, status: 'ran', outcome: result.outcome };
    let next = await this.#requests.update(stored, ran);
    // Only this replica moves an approved request on; a miss means its message was placed meanwhile.
    for (let again = 0; !next && again < 3; again++) {
      const now = await this.#requests.get(request.id);
      if (!now) break;
      next = await this.#requests.update(now, ran, now);
    }
    const shown = next ?? { ...stored, request: ran };
    await this.#show(shown);
    return shown;
  }

  /** Progress and the answer of a run, as one reply in the request's thread (updated in place). */
  #threadProgress(stored: StoredRequest): HeldProgress & { finish(reply: Reply): Promise<void> } {
    const { slack, log } = this.#d;
    let reply: { channel: string; ts: string } | undefined;
    const place = async (text: string, blocks?: Reply['blocks']) => {
      if (stored.channel === '-') return;
      const content = { channel: stored.channel, text, ...(blocks ? { blocks } : {}) };
      try {
        if (reply) await slack.updateMessage({ ...content, ts: reply.ts });
        else reply = await slack.postMessage({ ...content, threadTs: stored.ts });
      } catch (error) {
        log.warn({ err: error, request: stored.request.id }, 'could not show an approved request’s progress');
      }
    };
    // The reply names the requester (a mention notifies them) above the action's own answer.
    const show = (r: Reply) => {
      const head = resultReply(stored.request);
      return place(
        `${head}\n${truncate(r.text, 3_000)}`,
        r.blocks && [section(head), ...r.blocks.slice(0, 45)],
      );
    };
    return { update: show, finish: show };
  }

  /**
   * Moves an open request to `status` (compare-and-set: undefined when someone else moved it
   * first), records the decision, takes it out of the open index and updates its message.
   */
  async #close(stored: StoredRequest, status: RequestStatus, by: string): Promise<StoredRequest | undefined> {
    const d = this.#d;
    const next = await this.#requests.update(stored, {
      ...stored.request,
      status,
      decidedBy: by,
      decidedAt: d.clock.now(),
    });
    if (!next) return undefined;
    await this.#record({
      action: 'approval:decision',
      actor: by,
      outcome: 'success',
      details: {
        request: stored.request.id,
        for: stored.request.held.action,
        decision: status,
        requester: stored.request.held.actor.userId,
      },
    });
    await this.#open
      .remove(stored.request.id)
      .catch((error: unknown) =>
        d.log.warn({ err: error }, 'could not take a closed request out of the open index; the sweep will'),
      );
    await this.#show(next);
    return next;
  }

  /**
   * Stores an approval record and waits for it (the answer follows the record). One the trail
   * cannot take is logged in full by the sink; an approved action's own intent record still fails
   * closed when it runs.
   */
  async #record(event: AuditEvent): Promise<void> {
    await this.#d.audit.record(event).catch(() => undefined);
  }

  /** Shows the request's state on its message. */
  async #show(stored: StoredRequest): Promise<void> {
    if (stored.channel === '-') return;
    try {
      await this.#d.slack.updateMessage({
        channel: stored.channel,
        ts: stored.ts,
        ...requestMessage(stored.request),
      });
    } catch (error) {
      this.#d.log.warn(
        { err: error, request: stored.request.id },
        'could not update an approval request message',
      );
    }
  }

  /**
   * Closes the open requests that have expired (and drops index entries of closed ones): run by
   * the one replica holding the sweep's lease. Returns how many it expired.
   */
  async sweep(): Promise<number> {
    const now = this.#d.clock.now();
    let expired = 0;
    for (const entry of await this.#open.list()) {
      if (entry.expiresAt > now) continue;
      const stored = await this.#requests.get(entry.id);
      if (stored?.request.status === 'open') {
        if (await this.#close(stored, 'expired', 'opsbot')) expired++;
      } else await this.#open.remove(entry.id);
    }
    return expired;
  }

  /** `/opsbot approvals`: the open requests this person made or may decide. */
  async list(actor: Actor): Promise<Reply> {
    const now = this.#d.clock.now();
    const lines: string[] = [];
    for (const entry of await this.#open.list()) {
      if (entry.expiresAt <= now) continue;
      const stored = await this.#requests.get(entry.id);
      if (!stored || stored.request.status !== 'open') continue;
      const { request } = stored;
      const mine = request.held.actor.userId === actor.userId;
      const deciding = !mine && (await isApprover(request, actor.userId, this.#d.membership));
      if (!mine && !deciding) continue;
      lines.push(
        `• ${inlineCode(request.id, 20)} ${whatText(request)} — ${mine ? 'yours' : `asked by ${userMention(request.held.actor.userId)}, you may decide`} — ${
          stored.channel === '-' ? 'not posted' : channelMention(stored.channel)
        }, expires ${slackTime(request.expiresAt)}`,
      );
    }
    if (lines.length === 0) return { text: 'No open approval requests that you made or may decide.' };
    return { text: `*Open approval requests* (${lines.length}):\n${lines.join('\n')}` };
  }
}

/** How a closed request ended, for whoever presses one of its buttons later. */
function closedText(request: ApprovalRequest): string {
  const by = request.decidedBy && request.decidedBy !== 'opsbot' ? userMention(request.decidedBy) : 'opsbot';
  const id = inlineCode(request.id, 20);
  switch (request.status) {
    case 'approved':
      return `Request ${id} was approved by ${by}; it is running.`;
    case 'ran':
      return `Request ${id} was approved by ${by} and ran: ${request.outcome ?? 'done'}.`;
    case 'denied':
      return `Request ${id} was denied by ${by}; nothing ran.`;
    case 'cancelled':
      return `Request ${id} was cancelled${by === 'opsbot' ? '' : ` by ${by}`}; nothing ran.`;
    case 'expired':
      return `Request ${id} expired ${slackTime(request.expiresAt)}; nothing ran.`;
    default:
      return `Request ${id} is still open.`;
  }
}
