import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { REQUEST_ID } from '../../src/approvals/request.js';
import { MAX_OPEN_PER_REQUESTER } from '../../src/approvals/service.js';
import type { GateDecision } from '../../src/command-kit/held-action.js';
import { UserFacingError } from '../../src/errors.js';
import {
  type ApprovalsRig,
  actor,
  approvalsRig,
  type Backend,
  dynamoBackend,
  EXPIRES_MS,
  GROUPIE,
  heldUp,
  LEAD,
  LEAD2,
  REQUESTER,
  type Replica,
  STRANGER,
  sqliteBackend,
} from '../helpers/approvals-rig.js';
import { type DynamoProxy, startDynamoProxy } from '../helpers/dynamodb-proxy.js';
import { startMoto, warnMotoMissing } from '../helpers/moto.js';

/**
 * Issue 26: the approvals' State semantics, as replicas share them. `Approvals` instances are built
 * directly (no Bolt) on real State: two connections to one SQLite file, and two DynamoDB clients of
 * one table on moto (through a proxy passing one call at a time: moto's conditional writes are not
 * atomic across its threads, DynamoDB's are). The first valid decision wins, an approved action
 * runs once as its requester, and every decision is an audit record.
 */

// Every DynamoDB call crosses moto (a Python process) one at a time.
vi.setConfig({ testTimeout: 120_000 });

const root = mkdtempSync(join(tmpdir(), 'opsbot-approvals-'));
const moto = await startMoto();
if (!moto) warnMotoMissing('the approvals on DynamoDB (test/integration/approvals-state.test.ts)');
const proxy: DynamoProxy | undefined = moto ? await startDynamoProxy(moto.url) : undefined;

afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
  rmSync(root, { recursive: true, force: true });
});

const backends: Array<{ backend: Backend | undefined; name: string }> = [
  { name: 'SQLite', backend: sqliteBackend(root) },
  { name: 'DynamoDB (moto)', backend: proxy && dynamoBackend(proxy.url) },
];

/** The request id a held action got (fails the test when it was not held). */
function heldAs(decision: GateDecision): string {
  expect(decision).toMatchObject({ run: false, heldAs: expect.stringMatching(REQUEST_ID) });
  return (decision as { heldAs: string }).heldAs;
}

const mention = (user: string) => `<@${user}>`;

describe.each(backends)('approvals on $name State', ({ backend }) => {
  let rig: ApprovalsRig;
  afterEach(async () => {
    await rig?.close();
  });

  const start = async (...names: string[]): Promise<Replica[]> => {
    if (!backend) throw new Error('unreachable: skipped without a backend');
    rig = await approvalsRig(backend);
    const replicas: Replica[] = [];
    for (const name of names) replicas.push(await rig.replica(name));
    return replicas;
  };
  const decisions = async (id: string, outcome: 'success' | 'denied') =>
    (await rig.records('approval:decision')).filter((r) => r.details.request === id && r.outcome === outcome);
  const noErrorsLogged = () =>
    expect(rig.logs.records().filter((r) => (r.level as number) >= 50)).toEqual([]);

  describe.skipIf(!backend)('replicas sharing it', () => {
    it('two approvers on two replicas approve at once: it runs once, and the loser is told who won', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      for (let round = 0; round < 3; round++) {
        const id = heldAs(await a.approvals.check(heldUp(REQUESTER, `big-${round}`)));
        const before = rig.runs.length;
        const [byLead, byLead2] = await Promise.all([
          a.approvals.decide('approve', id, actor(LEAD)),
          b.approvals.decide('approve', id, actor(LEAD2)),
        ]);
        const runs = rig.runs.slice(before);
        expect(runs).toHaveLength(1);
        const winner = runs[0]?.approval.approvedBy as string;
        expect([LEAD, LEAD2]).toContain(winner);
        const [won, lost] = winner === LEAD ? [byLead, byLead2] : [byLead2, byLead];
        expect(won.text).toContain(`was approved by ${mention(winner)} and ran: success`);
        // The loser pressed while it was being approved or after it ran: either way, it names the winner.
        expect(lost.text).toMatch(
          new RegExp(`was approved by ${mention(winner)}(; it is running| and ran: success)`),
        );
        expect(runs[0]?.on).toBe(winner === LEAD ? 'a' : 'b');
        const wins = await decisions(id, 'success');
        expect(wins.map((r) => [r.actor, r.details.decision])).toEqual([[winner, 'approved']]);
        expect((await rig.request(id))?.request).toMatchObject({
          status: 'ran',
          outcome: 'success',
          decidedBy: winner,
        });
      }
      // Each round, both presses read the request open and one lost the compare-and-set.
      expect(rig.casRefused()).toBeGreaterThanOrEqual(1);
      noErrorsLogged();
    });

    it('one approver pressing Approve twice, on one replica and across two: it runs once', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      for (const [first, second] of [
        [a, a],
        [a, b],
      ] as const) {
        const id = heldAs(await a.approvals.check(heldUp(REQUESTER, `big-${first.name}${second.name}`)));
        const before = rig.runs.length;
        const answers = await Promise.all([
          first.approvals.decide('approve', id, actor(LEAD)),
          second.approvals.decide('approve', id, actor(LEAD)),
        ]);
        expect(rig.runs.length - before).toBe(1);
        expect(answers.filter((r) => r.text.includes('and ran: success')).length).toBeGreaterThanOrEqual(1);
        for (const answer of answers) expect(answer.text).toContain(`was approved by ${mention(LEAD)}`);
        expect(await decisions(id, 'success')).toHaveLength(1);
      }
      expect(rig.casRefused()).toBeGreaterThanOrEqual(2);
      noErrorsLogged();
    });

    it('approve and deny racing: exactly one wins, the request says which, and a denial runs nothing', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      const won = new Set<string>();
      for (let round = 0; round < 4; round++) {
        const id = heldAs(await a.approvals.check(heldUp(REQUESTER, `big-${round}`)));
        const before = rig.runs.length;
        // Which side starts first alternates, so that both orders are exercised.
        const approve = () => a.approvals.decide('approve', id, actor(LEAD));
        const deny = () => b.approvals.decide('deny', id, actor(LEAD2));
        await (round % 2 === 0 ? Promise.all([approve(), deny()]) : Promise.all([deny(), approve()]));
        const stored = (await rig.request(id))?.request;
        const ran = rig.runs.length - before;
        const wins = await decisions(id, 'success');
        expect(wins).toHaveLength(1);
        if (stored?.status === 'denied') {
          expect(ran).toBe(0);
          expect(stored.decidedBy).toBe(LEAD2);
          expect(wins[0]?.details.decision).toBe('denied');
        } else {
          expect(stored).toMatchObject({ status: 'ran', decidedBy: LEAD });
          expect(ran).toBe(1);
          expect(wins[0]?.details.decision).toBe('approved');
        }
        won.add(stored?.status ?? 'missing');
      }
      expect([...won].every((s) => s === 'ran' || s === 'denied')).toBe(true);
      expect(rig.casRefused()).toBeGreaterThanOrEqual(1);
      noErrorsLogged();
    });

    it('an approver pressing Approve as soon as the request is posted (before it is placed) is not lost', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      let pressed: Promise<{ text: string }> | undefined;
      rig.onPost = async (args) => {
        const id = JSON.stringify(args.blocks ?? []).match(/R-[0-9A-Z]{8}/)?.[0];
        // Pressed, not awaited: the post answers (and is placed) while the press is under way.
        if (id && !pressed) pressed = b.approvals.decide('approve', id, actor(LEAD));
      };
      const id = heldAs(await a.approvals.check(heldUp()));
      rig.onPost = undefined;
      const answer = await pressed;
      expect(answer?.text).toContain(`was approved by ${mention(LEAD)} and ran: success`);
      expect(rig.runs).toHaveLength(1);
      const stored = await rig.request(id);
      expect(stored?.request.status).toBe('ran');
      // The request still knows where its message is, for the updates.
      expect(stored?.channel).toBe('C0OPS');
      noErrorsLogged();
    });

    it('a decision made before the post is placed still shows on the request message', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      rig.onPost = async (args) => {
        const id = JSON.stringify(args.blocks ?? []).match(/R-[0-9A-Z]{8}/)?.[0];
        rig.onPost = undefined;
        // The whole decision (and the run) happens before the post answers.
        if (id) await b.approvals.decide('deny', id, actor(LEAD));
      };
      const id = heldAs(await a.approvals.check(heldUp()));
      const stored = await rig.request(id);
      expect(stored).toMatchObject({ channel: 'C0OPS', request: { status: 'denied' } });
      const last = rig.slack
        .filter((m) => m.op === 'update' && m.args.text.startsWith('Approval needed'))
        .at(-1);
      expect(last?.args.text).toContain('Denied by');
    });

    it('a restart: a request held by one replica is approved on a new one, and runs once as the requester', async () => {
      const [a] = (await start('a')) as [Replica];
      const held = heldUp(REQUESTER, 'restart-1');
      const id = heldAs(await a.approvals.check(held));
      await a.close();

      const b = await rig.replica('b');
      const answer = await b.approvals.decide('approve', id, actor(LEAD));
      expect(answer.text).toContain(`was approved by ${mention(LEAD)} and ran: success`);
      expect(rig.runs).toHaveLength(1);
      expect(rig.runs[0]).toEqual({ held, approval: { id, approvedBy: LEAD }, on: 'b' });
      expect(rig.runs[0]?.held.actor.userId).toBe(REQUESTER);
      // A second press, on a third connection, runs nothing more.
      const c = await rig.replica('c');
      expect((await c.approvals.decide('approve', id, actor(LEAD2))).text).toContain(
        `was approved by ${mention(LEAD)} and ran: success`,
      );
      expect(rig.runs).toHaveLength(1);
      expect((await rig.records('approval:request')).map((r) => r.details.request)).toEqual([id]);
      noErrorsLogged();
    });

    it('expiry: a decision after expiresAt runs nothing and the request reads expired', async () => {
      const [a] = (await start('a')) as [Replica];
      const id = heldAs(await a.approvals.check(heldUp()));
      rig.clock.advance(EXPIRES_MS);
      const answer = await a.approvals.decide('approve', id, actor(LEAD));
      expect(answer.text).toMatch(/expired .*; nothing ran/);
      expect(rig.runs).toEqual([]);
      expect((await rig.request(id))?.request).toMatchObject({ status: 'expired', decidedBy: 'opsbot' });
      const closed = await decisions(id, 'success');
      expect(closed.map((r) => [r.actor, r.details.decision])).toEqual([['opsbot', 'expired']]);
      // A later press is told the same, and writes nothing more.
      expect((await a.approvals.decide('approve', id, actor(LEAD2))).text).toMatch(/expired .*; nothing ran/);
      expect(await decisions(id, 'success')).toHaveLength(1);
      expect(rig.runs).toEqual([]);
    });

    it('a press one millisecond before expiry still approves', async () => {
      const [a] = (await start('a')) as [Replica];
      const id = heldAs(await a.approvals.check(heldUp()));
      rig.clock.advance(EXPIRES_MS - 1);
      expect((await a.approvals.decide('approve', id, actor(LEAD))).text).toContain('and ran: success');
      expect(rig.runs).toHaveLength(1);
    });

    it('sweep() on two replicas at once expires a due request once', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      const due = heldAs(await a.approvals.check(heldUp(REQUESTER, 'due')));
      rig.clock.advance(EXPIRES_MS / 2);
      const later = heldAs(await b.approvals.check(heldUp(REQUESTER, 'later')));
      rig.clock.advance(EXPIRES_MS / 2);
      const swept = await Promise.all([a.approvals.sweep(), b.approvals.sweep()]);
      expect(swept.reduce((x, y) => x + y, 0)).toBe(1);
      expect(rig.casRefused()).toBeGreaterThanOrEqual(1);
      expect((await rig.request(due))?.request.status).toBe('expired');
      expect((await rig.request(later))?.request.status).toBe('open');
      expect((await decisions(due, 'success')).map((r) => r.details.decision)).toEqual(['expired']);
      expect(await decisions(later, 'success')).toEqual([]);
      // The expired one left the list; the other is still there.
      const listed = (await a.approvals.list(actor(REQUESTER))).text;
      expect(listed).not.toContain(due);
      expect(listed).toContain(later);
      expect(rig.runs).toEqual([]);
      noErrorsLogged();
    });

    it('the open list: shown to its requester and its approvers (a user group too), nobody else, and gone once closed', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      const id = heldAs(await a.approvals.check(heldUp()));
      const mine = (await b.approvals.list(actor(REQUESTER))).text;
      expect(mine).toContain(id);
      expect(mine).toContain('yours');
      const deciding = (await b.approvals.list(actor(GROUPIE))).text;
      expect(deciding).toContain(id);
      expect(deciding).toContain(`asked by ${mention(REQUESTER)}, you may decide`);
      expect((await b.approvals.list(actor(LEAD))).text).toContain(id);
      expect((await b.approvals.list(actor(STRANGER))).text).toBe(
        'No open approval requests that you made or may decide.',
      );

      // The group member decides it (membership through S0LEADS): then it is nobody's open request.
      expect((await b.approvals.decide('approve', id, actor(GROUPIE))).text).toContain('and ran: success');
      for (const who of [REQUESTER, GROUPIE, LEAD])
        expect((await a.approvals.list(actor(who))).text).not.toContain(id);
    });

    it(`a requester with ${MAX_OPEN_PER_REQUESTER} open requests is refused another, and told how to cancel`, async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      const ids: string[] = [];
      for (let i = 0; i < MAX_OPEN_PER_REQUESTER; i++)
        ids.push(heldAs(await (i % 2 ? a : b).approvals.check(heldUp(REQUESTER, `n-${i}`))));
      const refused = await a.approvals.check(heldUp(REQUESTER, 'one-too-many')).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(UserFacingError);
      expect((refused as Error).message).toBe(
        `You have ${MAX_OPEN_PER_REQUESTER} requests waiting for approval: cancel some (\`/opsbot approvals\`) before asking again.`,
      );
      expect((await rig.records('approval:request')).length).toBe(MAX_OPEN_PER_REQUESTER);
      // Someone else is not held back by it.
      heldAs(await a.approvals.check(heldUp(STRANGER, 'other')));
      // After cancelling one, the requester may ask again.
      const cancel = await b.approvals.decide('cancel', ids[0] as string, actor(REQUESTER));
      expect(cancel.text).toContain(`was cancelled by ${mention(REQUESTER)}; nothing ran`);
      heldAs(await a.approvals.check(heldUp(REQUESTER, 'again')));
      expect(rig.runs).toEqual([]);
    });

    it('self-approval, a non-approver and a cancel by someone else are refused, recorded as denied, and run nothing', async () => {
      const [a, b] = (await start('a', 'b')) as [Replica, Replica];
      const id = heldAs(await a.approvals.check(heldUp()));
      const self = await b.approvals.decide('approve', id, actor(REQUESTER));
      expect(self.text).toBe(':no_entry: You cannot approve your own request: one of the approvers must.');
      const stranger = await a.approvals.decide('approve', id, actor(STRANGER));
      expect(stranger.text).toContain(":no_entry: You are not one of this request's approvers");
      const strangerDeny = await a.approvals.decide('deny', id, actor(STRANGER));
      expect(strangerDeny.text).toContain(":no_entry: You are not one of this request's approvers");
      const leadCancel = await b.approvals.decide('cancel', id, actor(LEAD));
      expect(leadCancel.text).toBe(
        `:no_entry: Only ${mention(REQUESTER)}, who asked, can cancel this request.`,
      );
      const refused = await decisions(id, 'denied');
      expect(refused.map((r) => [r.actor, r.details.decision, r.details.why])).toEqual([
        [REQUESTER, 'approve', 'self-approval'],
        [STRANGER, 'approve', 'not an approver'],
        [STRANGER, 'deny', 'not an approver'],
        [LEAD, 'cancel', 'not the requester'],
      ]);
      expect(await decisions(id, 'success')).toEqual([]);
      expect((await rig.request(id))?.request.status).toBe('open');
      expect(rig.runs).toEqual([]);

      // The requester cancels (and their own Deny is a cancel); then nothing can approve it.
      expect((await a.approvals.decide('cancel', id, actor(REQUESTER))).text).toContain(
        `was cancelled by ${mention(REQUESTER)}; nothing ran`,
      );
      expect((await b.approvals.decide('approve', id, actor(LEAD))).text).toContain('was cancelled');
      expect((await decisions(id, 'success')).map((r) => [r.actor, r.details.decision])).toEqual([
        [REQUESTER, 'cancelled'],
      ]);
      expect(rig.runs).toEqual([]);
      noErrorsLogged();
    });
  });
});
