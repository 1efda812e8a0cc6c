import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE_ACTION, CANCEL_ACTION, DENY_ACTION } from '../../src/approvals/message.js';
import type { AuditRecord } from '../../src/audit/records.js';
import {
  SANDBOX_DEVENV_ROLE,
  SANDBOX_LAUNCH_TEMPLATE,
  type SandboxBot,
  startSandboxBot,
} from '../../src/sandbox/sandbox-bot.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';
import { assertNoCanary } from '../helpers/canary.js';

/**
 * Two people for risky actions, over the real Bolt app and the simulated Slack, STS and EC2: a
 * held `/devenv up large` waits for a lead; the requester cannot approve it, a guest or an admin
 * who is not an approver cannot decide it; an approval runs it once, as the requester, under their
 * STS session tagged with the approver; deny, cancel, expiry and a double press run nothing more.
 * Nothing in any command's code knows about approvals: the policy alone holds them.
 */
const CONFIG = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["devenv:*"]
      usergroups: [S0PLATFORM]
      channels: [C0DEV]
approvals:
  - actions: ["devenv:up"]
    args: { template: [large] }
    approvers: { usergroups: [S0LEADS] }
    expires: 15m
  - actions: ["devenv:extend"]
    approvers: { users: [U0LEAD] }
    expires: 10m
security:
  channel: C0SECURITY
devenv:
  roleArn: ${SANDBOX_DEVENV_ROLE}
  maxPerUser: 5
  templates:
    small: { launchTemplate: ${SANDBOX_LAUNCH_TEMPLATE}, instanceType: t3.medium, defaultTtl: 4h, maxTtl: 24h }
    large: { launchTemplate: ${SANDBOX_LAUNCH_TEMPLATE}, instanceType: m5.xlarge, defaultTtl: 4h, maxTtl: 24h }
`;

let bot: SandboxBot;

beforeAll(async () => {
  bot = await startSandboxBot({ configYaml: CONFIG, pollSeconds: 600, approvals: { sweepEveryMs: 200 } });
  bot.aws.ec2.pendingMs = 0;
});
afterAll(async () => {
  await bot?.stop();
});

async function command(command: string, text: string, userId = 'U0DEV', channelId = 'C0DEV') {
  const delivery = await bot.slack.sendSlashCommand({ command, text, userId, channelId });
  expect(delivery.status).toBe(200);
  await bot.slack.waitForResponse(delivery.responseUrl);
  const last = () => bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '';
  await expect.poll(() => last().includes('updates when it is running'), { timeout: 15_000 }).toBe(false);
  return last();
}

/** The request message opsbot posted for `id` in `channel`. */
function requestMessage(id: string, channel = 'C0DEV'): SimMessage {
  const found = bot.slack
    .messages(channel)
    .find((m) => !m.threadTs && JSON.stringify(m.blocks ?? '').includes(id));
  if (!found) throw new Error(`no request message for ${id}`);
  return found;
}

async function press(actionId: string, id: string, userId: string, messageTs?: string) {
  const delivery = await bot.slack.sendBlockAction({
    userId,
    channelId: 'C0DEV',
    actionId,
    value: id,
    ...(messageTs ? { messageTs } : {}),
  });
  expect(delivery.status).toBe(200);
  await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 20_000 });
  return bot.slack.responses(delivery.responseUrl).at(-1)?.text ?? '';
}

const requestIdIn = (text: string) => {
  const id = /R-[0-9A-HJKMNP-TV-Z]{8}/.exec(text)?.[0];
  if (!id) throw new Error(`no request id in: ${text}`);
  return id;
};

async function records(command: string, limit = 200): Promise<AuditRecord[]> {
  return bot.state.audit.query({ command, limit });
}

const launches = () => bot.aws.ec2.calls.filter((c) => c.action === 'RunInstances' && !c.error).length;

describe('approvals by a second person', () => {
  it('runs what no rule holds at once, and says in help which actions need approval', async () => {
    const before = launches();
    expect(await command('/devenv', 'up small --name free-1')).toMatch(/`free-1` .* is \*running\*/);
    expect(launches()).toBe(before + 1);
    const help = await command('/devenv', 'help');
    expect(help).toContain(':lock: needs approval:');
    expect(help).toContain('template is large');
    // App Home lists what needs a second person, and who decides.
    await bot.slack.sendEvent({ type: 'app_home_opened', user: 'U0DEV', tab: 'home', channel: 'DU0DEV' });
    await expect.poll(() => bot.slack.homeOf('U0DEV'), { timeout: 5_000 }).toBeDefined();
    const home = JSON.stringify(bot.slack.homeOf('U0DEV')?.view);
    expect(home).toContain('Needs approval by a second person');
    expect(home).toContain('`devenv:extend`: `devenv:extend` — approvers: <@U0LEAD>');
  });

  it('holds `/devenv up large`: the requester is told, approvers see it, nothing reaches AWS', async () => {
    const sts = bot.aws.sts.assumeRoleCalls.length;
    const ec2 = bot.aws.ec2.calls.length;
    const answer = await command('/devenv', 'up large --name big-1');
    expect(answer).toContain('needs a second person');
    expect(answer).toContain('<!subteam^S0LEADS>');
    const id = requestIdIn(answer);
    const message = requestMessage(id);
    expect(message.text).toContain('<@U0DEV> asks to run `devenv:up`');
    const blocks = JSON.stringify(message.blocks);
    for (const action of [APPROVE_ACTION, DENY_ACTION, CANCEL_ACTION]) expect(blocks).toContain(action);
    expect(bot.aws.sts.assumeRoleCalls.length).toBe(sts);
    expect(bot.aws.ec2.calls.length).toBe(ec2);
    const [request] = await records('approval');
    expect(request).toMatchObject({ action: 'approval:request', actor: 'U0DEV', outcome: 'success' });
    expect(request?.details).toMatchObject({ request: id, for: 'devenv:up', channel: 'C0DEV' });
    // The held interaction's own record says so: it did not run.
    const heldRecord = async () => (await records('devenv')).find((r) => r.details.heldAs === id);
    await expect.poll(heldRecord).toBeDefined();
    const held = await heldRecord();
    expect(held?.outcome).toBe('success');
    expect(held?.details.args).toContain('template=large');
  });

  it('refuses the requester, a guest and an admin who is not an approver; a lead approves and it runs once, as the requester', async () => {
    const id = requestIdIn(await command('/devenv', 'up large --name big-2'));
    const ts = requestMessage(id).ts;
    expect(await press(APPROVE_ACTION, id, 'U0DEV', ts)).toContain('cannot approve your own request');
    expect(await press(APPROVE_ACTION, id, 'U0GUEST', ts)).toContain('not one of this request');
    expect(await press(APPROVE_ACTION, id, 'U0ADMIN', ts)).toContain('not one of this request');
    const refused = (await records('approval')).filter(
      (r) => r.action === 'approval:decision' && r.details.request === id && r.outcome === 'denied',
    );
    expect(refused.map((r) => r.actor).sort()).toEqual(['U0ADMIN', 'U0DEV', 'U0GUEST']);

    const before = launches();
    const stsBefore = bot.aws.sts.assumeRoleCalls.length;
    // The same approver presses twice at once: one run.
    const [first, second] = await Promise.all([
      press(APPROVE_ACTION, id, 'U0LEAD', ts),
      press(APPROVE_ACTION, id, 'U0LEAD', ts),
    ]);
    expect([first, second].filter((t) => t.includes('ran: success'))).toHaveLength(1);
    expect(launches()).toBe(before + 1);
    const instance = bot.aws.ec2.instances().find((i) => i.tags.Name === 'big-2');
    expect(instance?.tags.Owner).toBe('U0DEV');
    expect(instance?.launchedBy?.sourceIdentity).toBe('slack.T0SANDBOX.U0DEV');
    const assumed = bot.aws.sts.assumeRoleCalls.slice(stsBefore);
    expect(assumed.length).toBeGreaterThan(0);
    for (const call of assumed) {
      expect(call.sourceIdentity).toBe('slack.T0SANDBOX.U0DEV');
      expect(call.tags).toEqual(expect.arrayContaining([{ key: 'opsbot-approved-by', value: 'U0LEAD' }]));
    }
    // Every message shows the outcome: the request, and the answer in its thread for the requester.
    await expect.poll(() => requestMessage(id).text).toContain('Approved by <@U0LEAD>');
    expect(JSON.stringify(requestMessage(id).blocks)).not.toContain(APPROVE_ACTION);
    const reply = bot.slack.messages('C0DEV').find((m) => m.threadTs === ts);
    expect(reply?.text).toContain('<@U0DEV>');
    expect(reply?.text).toContain('big-2');
    // Request, decision and run: separate records, linked by the request id.
    const decision = (await records('approval')).find(
      (r) => r.action === 'approval:decision' && r.details.request === id && r.outcome === 'success',
    );
    expect(decision).toMatchObject({
      actor: 'U0LEAD',
      details: { decision: 'approved', requester: 'U0DEV' },
    });
    const run = (await records('devenv')).filter((r) => r.details.approval === id);
    expect(run.map((r) => r.outcome).sort()).toEqual(['intent', 'success']);
    for (const r of run) expect(r).toMatchObject({ actor: 'U0DEV', details: { approvedBy: 'U0LEAD' } });
    // A press after it ran says so and runs nothing.
    expect(await press(APPROVE_ACTION, id, 'U0LEAD', ts)).toContain('was approved by <@U0LEAD> and ran');
    expect(launches()).toBe(before + 1);
  });

  it('deny and cancel run nothing; only the requester cancels', async () => {
    const before = launches();
    const denied = requestIdIn(await command('/devenv', 'up large --name big-3'));
    expect(await press(DENY_ACTION, denied, 'U0LEAD')).toContain('denied by <@U0LEAD>');
    await expect.poll(() => requestMessage(denied).text).toContain('Denied by <@U0LEAD>');
    expect(await press(APPROVE_ACTION, denied, 'U0LEAD')).toContain('denied');

    const cancelled = requestIdIn(await command('/devenv', 'up large --name big-4'));
    expect(await press(CANCEL_ACTION, cancelled, 'U0LEAD')).toContain('Only <@U0DEV>');
    expect(await press(CANCEL_ACTION, cancelled, 'U0DEV')).toContain('cancelled by <@U0DEV>');
    await expect.poll(() => requestMessage(cancelled).text).toContain('Cancelled by <@U0DEV>');
    expect(launches()).toBe(before);
  });

  it('an approval after expiry runs nothing, and the sweep closes what nobody decided', async () => {
    const before = launches();
    const late = requestIdIn(await command('/devenv', 'up large --name big-5'));
    const swept = requestIdIn(await command('/devenv', 'up large --name big-6'));
    bot.clock.advance(16 * 60_000);
    expect(await press(APPROVE_ACTION, late, 'U0LEAD')).toContain('expired');
    await expect.poll(() => requestMessage(swept).text, { timeout: 10_000 }).toContain('Expired');
    expect(launches()).toBe(before);
    const expired = (await records('approval')).filter(
      (r) => r.action === 'approval:decision' && r.details.decision === 'expired',
    );
    // Each once (the first test's request, never decided, expired with them).
    for (const id of [late, swept]) expect(expired.filter((r) => r.details.request === id)).toHaveLength(1);
  });

  it('holds a button too: Extend waits for the lead, then extends as the requester', async () => {
    const instance = bot.aws.ec2.instances().find((i) => i.tags.Name === 'free-1');
    const id = instance?.instanceId as string;
    const expiresBefore = instance?.tags.ExpiresAt;
    const held = await press('devenv:extend', id, 'U0DEV');
    expect(held).toContain('needs a second person');
    expect(bot.aws.ec2.instances().find((i) => i.instanceId === id)?.tags.ExpiresAt).toBe(expiresBefore);
    const request = requestIdIn(held);
    expect(await press(APPROVE_ACTION, request, 'U0LEAD')).toContain('ran: success');
    const after = bot.aws.ec2.instances().find((i) => i.instanceId === id)?.tags.ExpiresAt;
    expect(Date.parse(after as string)).toBeGreaterThan(Date.parse(expiresBefore as string));
  });

  it('break glass: an admin runs a held action at once, reported to the security channel; nobody else may', async () => {
    expect(await command('/devenv', 'up large --name big-7 --break-glass "prod is down"')).toContain(
      'Only opsbot admins',
    );
    const before = launches();
    const answer = await command(
      '/devenv',
      'up large --name glass-1 --break-glass "prod is down"',
      'U0ADMIN',
    );
    expect(answer).toMatch(/`glass-1` .* is \*running\*/);
    expect(launches()).toBe(before + 1);
    await expect
      .poll(() => bot.slack.messages('C0SECURITY').some((m) => (m.text ?? '').includes('Break glass')))
      .toBe(true);
    const [glass] = (await records('approval')).filter((r) => r.action === 'approval:break-glass');
    expect(glass).toMatchObject({ actor: 'U0ADMIN', details: { for: 'devenv:up', reason: 'prod is down' } });
    const run = (await records('devenv')).find(
      (r) => r.details.breakGlass === 'prod is down' && r.outcome === 'success',
    );
    expect(run?.actor).toBe('U0ADMIN');
  });

  it('`/opsbot approvals` lists the open requests you made or may decide, and nobody else’s', async () => {
    const id = requestIdIn(await command('/devenv', 'up large --name big-8'));
    expect(await command('/opsbot', 'approvals', 'U0DEV')).toContain(id);
    expect(await command('/opsbot', 'approvals', 'U0LEAD')).toContain(id);
    expect(await command('/opsbot', 'approvals', 'U0GUEST')).not.toContain(id);
    await press(CANCEL_ACTION, id, 'U0DEV');
    expect(await command('/opsbot', 'approvals', 'U0DEV')).not.toContain(id);
  });

  it('never lets a secret reach Slack, the log or the trail', async () => {
    const trail = await bot.state.audit.query({ limit: 200 });
    assertNoCanary({ slack: bot.slack.calls, logs: bot.logLines.join('\n'), trail }, bot.secrets());
  });
});
