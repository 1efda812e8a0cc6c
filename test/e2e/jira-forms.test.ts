import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertCycle } from '../../src/sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import type { SimMessage } from '../../src/sandbox/slack-workspace.js';
import { assertNoCanary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';

/**
 * `/jira create`, the forms, the buttons under `/jira issue`, the "Create Jira issue" message
 * shortcut and alert button, token rotation and 429s: over real Bolt and jira.js, against the
 * simulated Slack and Jira Cloud.
 */
const DEVI = '5b10a2844c20165700ede21g';
const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["jira:*"]
      channels: [C0DEV]
    - actions: ["jira:issue", "jira:search"]
      channels: [C0OPS]
    - actions: ["dd:*", "jira:create"]
      channels: [C0ALERTS]
jira:
  defaultProject: OPS
  defaultBoard: 1
  users: { U0DEV: "${DEVI}" }
alerts:
  defaultChannel: C0ALERTS
`;

let bot: SandboxBot;
beforeAll(async () => {
  bot = await startSandboxBot({
    configYaml: POLICY,
    pollSeconds: 600,
    alerts: { postIntervalMs: 20, updateIntervalMs: 5, pollMs: 50 },
  });
});
afterAll(async () => {
  await bot?.stop();
});

const jira = async (text: string, userId = 'U0DEV', channelId = 'C0DEV') => {
  const delivery = await bot.slack.sendSlashCommand({ command: '/jira', text, userId, channelId });
  expect(delivery.status).toBe(200);
  const [post] = await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
  return { text: post?.text ?? '', blocks: post?.blocks ?? [], responseType: post?.responseType };
};
const calls = () => bot.jira.calls.length;
const keyIn = (text: string) => /\/browse\/([A-Z]+-\d+)\|/.exec(text)?.[1] ?? '';

interface OpenedView {
  callback_id: string;
  private_metadata: string;
  blocks: Array<{
    block_id: string;
    element?: { type: string; initial_value?: string; initial_option?: { value: string } };
  }>;
}
/** The next modal opened after `count` had been (views.open through the simulated Slack). */
const nextView = async (count: number): Promise<OpenedView> => {
  await eventually(() => bot.slack.views().filter((v) => v.kind === 'modal').length > count, 'a form');
  return bot.slack.views().filter((v) => v.kind === 'modal')[count]?.view as OpenedView;
};
const modals = () => bot.slack.views().filter((v) => v.kind === 'modal').length;
const initial = (view: OpenedView, block: string) => {
  const element = view.blocks.find((b) => b.block_id === block)?.element;
  return element?.initial_value ?? element?.initial_option?.value;
};

const text = (value: string) => ({ value: { type: 'plain_text_input', value } });
const choice = (value: string | null) => ({
  value: {
    type: 'static_select',
    selected_option: value ? { value, text: { type: 'plain_text', text: value } } : null,
  },
});
const user = (id: string | null) => ({ value: { type: 'users_select', selected_user: id } });
const submit = (view: OpenedView, values: Record<string, unknown>, userId = 'U0DEV') =>
  bot.slack.sendViewSubmission({
    userId,
    callbackId: view.callback_id,
    privateMetadata: view.private_metadata,
    values: values as never,
  });
const createValues = (over: Record<string, unknown> = {}) => ({
  project: text('OPS'),
  type: choice('bug'),
  summary: text('Checkout returns 502 under load'),
  description: text('Seen at 10:02 UTC.\nAbout 3% of requests.'),
  priority: choice('high'),
  assignee: user(null),
  ...over,
});

const press = async (
  userId: string,
  message: SimMessage | undefined,
  action: { actionId: string; value?: string; selectedOption?: { value: string } },
  channelId = 'C0DEV',
) => {
  const delivery = await bot.slack.sendBlockAction({
    userId,
    channelId,
    ...(message
      ? { messageTs: message.ts, message: { text: message.text ?? '', blocks: message.blocks ?? [] } }
      : {}),
    ...action,
  });
  expect(delivery.status).toBe(200);
  return delivery;
};

describe('/jira create', () => {
  it('creates directly with a summary: type, priority, an ADF description, announced with its link', async () => {
    const answer = await jira(
      'create OPS "Rotate the staging certificate" It expires Friday --type bug --priority high',
    );
    expect(answer.responseType).toBe('in_channel');
    expect(answer.text).toMatch(
      /:memo: <@U0DEV> created <http:\/\/127\.0\.0\.1:\d+\/browse\/OPS-\d+\|OPS-\d+>: Rotate/,
    );
    const issue = bot.jira.issue(keyIn(answer.text));
    expect(issue?.summary).toBe('Rotate the staging certificate');
    expect(issue?.issuetype).toBe('Bug');
    expect(issue?.priority).toBe('High');
    expect(issue?.description?.type).toBe('doc');
    expect(JSON.stringify(issue?.description)).toContain('It expires Friday');
    // No project given: jira.defaultProject.
    const plain = await jira('create "Flaky login test"');
    expect(bot.jira.issue(keyIn(plain.text))?.project).toBe('OPS');
    expect(bot.jira.issue(keyIn(plain.text))?.issuetype).toBe('Task');
  });

  it('refuses a summary over 255 characters, or command text over Slack’s 4,000, before any call', async () => {
    const before = calls();
    expect((await jira(`create OPS "${'x'.repeat(256)}"`)).text).toMatch(/summary.*255/i);
    expect((await jira(`create OPS "Short" ${'y'.repeat(32_001)}`)).text).toMatch(/too long/);
    expect(calls()).toBe(before);
  });

  it('makes no call for a command or button the policy denies', async () => {
    const before = calls();
    expect((await jira('create "Not here"', 'U0DEV', 'C0OPS')).text).toMatch(/^:no_entry: `jira:create`/);
    expect((await jira('move OPS-1 Done', 'U0DEV', 'C0OPS')).text).toMatch(/^:no_entry: `jira:move`/);
    const pressed = await press('U0DEV', undefined, { actionId: 'jira:assign', value: 'OPS-1' }, 'C0OPS');
    const [answer] = await bot.slack.waitForResponse(pressed.responseUrl, { timeoutMs: 10_000 });
    expect(answer?.text).toMatch(/^:no_entry: `jira:assign`/);
    expect(calls()).toBe(before);
  });

  it("turns Atlassian's refusal into a sentence, and escapes what it echoes", async () => {
    const unknown = await jira('create NOPE "Anything"');
    expect(unknown.text).toMatch(/Jira refused that for project NOPE: project: valid project is required/);
    // A broadcast or mention in the summary is plain text in Jira, and pings nobody in Slack.
    const loud = await jira('create "<!channel> deploy is broken <@U0ADMIN>"');
    expect(bot.jira.issue(keyIn(loud.text))?.summary).toBe('@channel deploy is broken @U0ADMIN');
    expect(loud.text).toContain('@\u200bchannel deploy is broken @U0ADMIN');
    expect(loud.text).not.toMatch(/<!|<@U0ADMIN|@channel\b/);
  });

  it('opens a form without a summary; missing or unmapped fields are refused inline, with no call', async () => {
    const seen = modals();
    const delivery = await bot.slack.sendSlashCommand({
      command: '/jira',
      text: 'create --type story',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    expect(delivery.status).toBe(200);
    const view = await nextView(seen);
    // The form is the answer: nothing is posted through the response_url.
    expect(bot.slack.responses(delivery.responseUrl)).toEqual([]);
    expect(view.callback_id).toBe('jira:create');
    expect(JSON.parse(view.private_metadata)).toEqual({ channel: 'C0DEV' });
    expect(view.blocks.map((b) => b.block_id)).toEqual([
      'project',
      'type',
      'summary',
      'description',
      'priority',
      'assignee',
    ]);
    expect(initial(view, 'project')).toBe('OPS');
    expect(initial(view, 'type')).toBe('story');

    const before = calls();
    const missing = await submit(view, createValues({ summary: text(''), project: text('not a key') }));
    expect(JSON.parse(missing.body)).toEqual({
      response_action: 'errors',
      errors: { summary: expect.stringMatching(/summary/), project: expect.stringMatching(/OPS/) },
    });
    const unmapped = await submit(view, createValues({ assignee: user('U0GUEST') }));
    expect(JSON.parse(unmapped.body).errors.assignee).toMatch(/jira\.users/);
    // Names every object has (`constructor`, `__proto__`) are no option and no person.
    const inherited = await submit(
      view,
      createValues({
        type: choice('constructor'),
        priority: choice('__proto__'),
        assignee: user('toString'),
      }),
    );
    expect(Object.keys(JSON.parse(inherited.body).errors).sort()).toEqual(['assignee', 'priority', 'type']);
    expect(calls()).toBe(before);

    const posted = bot.slack.messages('C0DEV').length;
    const ok = await submit(view, createValues({ assignee: user('U0DEV') }));
    expect(ok.body).toBe('');
    const announcement = await eventually(
      () =>
        bot.slack
          .messages('C0DEV')
          .slice(posted)
          .find((m) => m.text?.includes('created <')),
      'the announcement',
    );
    const issue = bot.jira.issue(keyIn(announcement.text ?? ''));
    expect(issue?.summary).toBe('Checkout returns 502 under load');
    expect(issue?.assignee).toBe(DEVI);
    expect(issue?.priority).toBe('High');
    expect(JSON.stringify(issue?.description)).toContain('About 3% of requests.');
    expect(announcement.text).toContain('assigned to <@U0DEV>');
  });
});

describe('the buttons under /jira issue', () => {
  it('assigns to the presser, moves through the menu of transitions, and comments through a form', async () => {
    const shown = await jira('issue OPS-4');
    const ids = JSON.stringify(shown.blocks);
    for (const id of ['jira:assign', 'jira:move', 'jira:comment']) expect(ids).toContain(id);
    const options = (
      shown.blocks.flatMap((b) => (b as { elements?: unknown[] }).elements ?? []) as Array<{
        action_id?: string;
        options?: Array<{ value: string }>;
      }>
    ).find((e) => e.action_id === 'jira:move')?.options;
    expect(options?.length).toBeGreaterThan(0);
    expect(options?.every((o) => o.value.startsWith('OPS-4|'))).toBe(true);

    const assigned = await press('U0DEV', undefined, { actionId: 'jira:assign', value: 'OPS-4' });
    const [a] = await bot.slack.waitForResponse(assigned.responseUrl, { timeoutMs: 10_000 });
    expect(a?.text).toContain('assigned <');
    expect(bot.jira.issue('OPS-4')?.assignee).toBe(DEVI);

    const target = options?.find((o) => /Done/.test(o.value))?.value ?? options?.[0]?.value ?? '';
    const moved = await press('U0DEV', undefined, {
      actionId: 'jira:move',
      selectedOption: { value: target },
    });
    const [m] = await bot.slack.waitForResponse(moved.responseUrl, { timeoutMs: 10_000 });
    expect(m?.text).toMatch(/moved <.*\|OPS-4> from .* to \*/);
    expect(m?.text).toContain(target.split('|')[1]);

    const seen = modals();
    await press('U0DEV', undefined, { actionId: 'jira:comment', value: 'OPS-4' });
    const form = await nextView(seen);
    expect(form.callback_id).toBe('jira:comment');
    expect(JSON.parse(form.private_metadata)).toMatchObject({ key: 'OPS-4', channel: 'C0DEV' });
    const empty = await submit(form, { comment: text('  ') });
    expect(JSON.parse(empty.body).errors.comment).toBeTruthy();
    expect(bot.jira.issue('OPS-4')?.comments.length ?? 0).toBe(0);
    await submit(form, { comment: text('Verified on staging') });
    await eventually(() => bot.jira.issue('OPS-4')?.comments.length === 1, 'the comment');
    expect(JSON.stringify(bot.jira.issue('OPS-4')?.comments)).toContain('Verified on staging');
  });

  it('an out-of-date button value is answered, with no call', async () => {
    const before = calls();
    const d = await press('U0DEV', undefined, { actionId: 'jira:assign', value: 'OPS-4" OR 1=1' });
    const [answer] = await bot.slack.waitForResponse(d.responseUrl, { timeoutMs: 10_000 });
    expect(answer?.text).toContain('out of date');
    expect(calls()).toBe(before);
  });
});

describe('"Create Jira issue" on a message and on an alert', () => {
  it('the message shortcut opens the form pre-filled with the text and a permalink; the link lands in its thread', async () => {
    const message = bot.slack.postAsUser({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      text: 'The login page is slow for <@U0ADMIN>\nsee <https://status.example.com|status>',
    });
    const seen = modals();
    const delivery = await bot.slack.sendMessageShortcut({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      callbackId: 'jira:create',
      messageTs: message.ts,
    });
    expect(delivery.status).toBe(200);
    const view = await nextView(seen);
    expect(JSON.parse(view.private_metadata)).toEqual({ channel: 'C0DEV', thread: message.ts });
    expect(initial(view, 'summary')).toBe('The login page is slow for @U0ADMIN');
    const description = initial(view, 'description') ?? '';
    expect(description).toContain('status (https://status.example.com)');
    expect(description).toMatch(/From Slack: https:\/\/[a-z0-9-]+\.slack\.com\/archives\/C0DEV\/p\d+/);

    await submit(
      view,
      createValues({ summary: text(initial(view, 'summary') ?? ''), description: text(description) }),
    );
    const reply = await eventually(
      () =>
        bot.slack.messages('C0DEV').find((m) => m.threadTs === message.ts && m.text?.includes('/browse/')),
      'the link in the thread',
    );
    expect(JSON.stringify(bot.jira.issue(keyIn(reply.text ?? ''))?.description)).toContain(
      'From Slack: https://',
    );
  });

  it('the shortcut is judged in the message channel: someone not allowed gets no form and Jira no call', async () => {
    const message = bot.slack.postAsUser({ userId: 'U0DEV', channelId: 'C0OPS', text: 'ops chatter' });
    const seen = modals();
    const before = calls();
    const delivery = await bot.slack.sendMessageShortcut({
      userId: 'U0DEV',
      channelId: 'C0OPS',
      callbackId: 'jira:create',
      messageTs: message.ts,
    });
    const [answer] = await bot.slack.waitForResponse(delivery.responseUrl, { timeoutMs: 10_000 });
    expect(answer?.text).toMatch(/^:no_entry: `jira:create` is allowed:/);
    expect(answer?.text).not.toContain('C0OPS');
    expect(modals()).toBe(seen);
    expect(calls()).toBe(before);
  });

  it("an alert's root offers it: the form is pre-filled from the alert, the link lands in the alert's thread", async () => {
    const [triggered] = alertCycle({
      monitorId: 777,
      name: 'Checkout latency high',
      scope: 'service:checkout',
    });
    if (!triggered) throw new Error('no alert');
    expect((await bot.webhooks.send(triggered)).status).toBe(202);
    const root = await eventually(
      () =>
        bot.slack
          .messages('C0ALERTS')
          .find((m) => !m.threadTs && JSON.stringify(m.blocks).includes('jira:create')),
      'the alert root with its Jira button',
    );
    const button = (
      (root.blocks ?? []).flatMap((b) => (b as { elements?: unknown[] }).elements ?? []) as Array<{
        action_id?: string;
        value?: string;
      }>
    ).find((e) => e.action_id === 'jira:create');
    const seen = modals();
    await press('U0DEV', root, { actionId: 'jira:create', value: button?.value ?? '' }, 'C0ALERTS');
    const view = await nextView(seen);
    expect(JSON.parse(view.private_metadata)).toEqual({ channel: 'C0ALERTS', thread: root.ts });
    expect(initial(view, 'summary')).toBe('Checkout latency high');
    expect(initial(view, 'type')).toBe('bug');
    expect(initial(view, 'description')).toMatch(/Monitor: 777[\s\S]*Scope: service:checkout/);
    // A stale or forged key opens nothing.
    const stale = await press('U0DEV', root, { actionId: 'jira:create', value: 'alert:nope' }, 'C0ALERTS');
    const [answer] = await bot.slack.waitForResponse(stale.responseUrl, { timeoutMs: 10_000 });
    expect(answer?.text).toContain('no longer known');
    // The real key of this root, on another message (here or in another channel): bound to the
    // message it is on, it opens nothing and reads nothing of the alert.
    const elsewhere = [
      {
        message: bot.slack.postAsUser({ userId: 'U0DEV', channelId: 'C0ALERTS', text: 'look' }),
        channel: 'C0ALERTS',
      },
      {
        message: bot.slack.postAsUser({ userId: 'U0DEV', channelId: 'C0DEV', text: 'look' }),
        channel: 'C0DEV',
      },
    ];
    for (const { message, channel } of elsewhere) {
      const opened = modals();
      const forged = await press(
        'U0DEV',
        message,
        { actionId: 'jira:create', value: button?.value ?? '' },
        channel,
      );
      const [refusal] = await bot.slack.waitForResponse(forged.responseUrl, { timeoutMs: 10_000 });
      expect(refusal?.text, channel).toContain('not on the alert it names');
      expect(modals(), channel).toBe(opened);
    }
    await submit(view, createValues({ summary: text('Checkout latency high') }));
    const reply = await eventually(
      () =>
        bot.slack.messages('C0ALERTS').find((m) => m.threadTs === root.ts && m.text?.includes('/browse/')),
      "the link in the alert's thread",
    );
    expect(bot.jira.issue(keyIn(reply.text ?? ''))?.summary).toBe('Checkout latency high');
  });
});

describe('credentials and limits', () => {
  it('rotates the API token mid-traffic, with requests in flight, and no command fails', async () => {
    const before = bot.provider.current('jira').versionId;
    const answers: string[] = [];
    for (let round = 0; round < 6; round++) {
      if (round === 2) bot.jira.holdNext(3, 300);
      const replies = Promise.all(['issue OPS-1', 'search login', 'issue OPS-2'].map((t) => jira(t)));
      if (round === 2) {
        await eventually(() => bot.jira.held === 3, 'three requests in flight');
        bot.rotateJira({ retireOld: true });
      }
      answers.push(...(await replies).map((r) => r.text));
    }
    expect(answers).toHaveLength(18);
    for (const a of answers)
      expect(a).toMatch(
        /^(<http:\/\/127\.0\.0\.1:\d+\/browse\/OPS-[12]\|OPS-[12]>|\d+ Jira issues? matching|No Jira issues match)/,
      );
    // The held calls were refused with the retired token, then retried with the new one.
    expect(bot.jira.calls.filter((c) => c.status === 401).length).toBeGreaterThanOrEqual(3);
    expect(bot.provider.current('jira').versionId).not.toBe(before);
  });

  it('waits out a short 429 and says when the wait is long', async () => {
    bot.jira.failNext({ status: 429, retryAfterSeconds: 1 });
    expect((await jira('issue OPS-1')).text).toContain('|OPS-1>');
    bot.jira.failNext({ status: 429, retryAfterSeconds: 600 });
    expect((await jira('issue OPS-2')).text).toMatch(/Jira.*(rate|limit).*try again/i);
  });

  it('leaks no secret', async () => {
    assertNoCanary(
      {
        logs: bot.logLines.join('\n'),
        audit: await bot.state.audit.query({ limit: 500 }),
        slack: bot.slack.calls,
        messages: [...bot.slack.messages('C0DEV'), ...bot.slack.messages('C0ALERTS')],
      },
      bot.secrets(),
    );
  });
});
