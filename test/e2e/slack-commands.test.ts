import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/records.js';
import type { CommandModule } from '../../src/command-kit/command-spec.js';
import { slack } from '../../src/integrations/slack.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';

/** A command only this test registers: a button and a modal, checked by the policy like any action. */
const probe: CommandModule = {
  name: 'probe',
  description: 'test probe',
  needs: [],
  subcommands: [
    {
      name: 'echo',
      summary: 'echoes its text',
      args: [{ name: 'text', rest: true }],
      examples: ['echo hi'],
      run: async (_ctx, input) => ({ text: `echo: ${String(input.args.text)}`, responseType: 'in_channel' }),
    },
    {
      name: 'slow',
      summary: 'takes a second',
      examples: ['slow'],
      run: async () => {
        await new Promise((r) => setTimeout(r, 1_000));
        return { text: 'done at last' };
      },
    },
    {
      name: 'steps',
      summary: 'shows progress, then finishes',
      args: [{ name: 'n', kind: 'number', min: 1, max: 9 }],
      examples: ['steps 2'],
      run: async (ctx, input) => {
        for (let i = 1; i <= Number(input.args.n); i++)
          await ctx.progress({ text: `step ${i} of ${input.args.n}` });
        return { text: 'all steps done' };
      },
    },
    {
      name: 'quiet',
      summary: 'the ack is the whole answer',
      examples: ['quiet'],
      run: async () => undefined,
    },
    {
      name: 'boom',
      summary: 'fails',
      examples: ['boom'],
      run: async () => {
        throw new Error('kaboom with internals');
      },
    },
  ],
  actions: { 'probe:press': async (ctx, value) => ({ text: `pressed ${value} by ${ctx.actor.userId}` }) },
  views: { 'probe:submit': async (_ctx, values) => ({ text: `submitted ${values.length} bytes` }) },
};

const POLICY = `access:
  admins: [U0ADMIN]
  rules:
    - actions: ["probe:*", "gh:*"]
      channels: [C0DEV]
    - actions: ["devenv:up"]
      usergroups: [S0PLATFORM]
      channels: [C0DEV]
    - actions: ["gh:prs"]
      channels: [C0OPS]
`;

let bot: SandboxBot;
const run = async (userId: string, channelId: string, command: string, text: string) => {
  const delivery = await bot.slack.sendSlashCommand({ command, text, userId, channelId });
  expect(delivery.status).toBe(200);
  expect(delivery.body).toBe(''); // acknowledged at once, empty; the answer comes through respond()
  expect(delivery.ackMs).toBeLessThan(3_000); // Slack's deadline
  const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
  return { delivery, reply: reply as NonNullable<typeof reply> };
};
/** Final audit records (an `intent` record goes before a side effect; its final record follows). */
const auditRecords = async () =>
  (await bot.state.audit.query({ limit: 200 })).filter((r) => r.outcome !== 'intent');
const lastAudit = async () => (await auditRecords())[0] as AuditRecord;
/** The audit event is written once the handler has finished, just after its reply: wait for it. */
const auditOf = async (action: string): Promise<AuditRecord> => {
  await expect.poll(async () => (await lastAudit()).action).toBe(action);
  return lastAudit();
};

beforeAll(async () => {
  bot = await startSandboxBot({ configYaml: POLICY, extraCommands: [probe], pollSeconds: 60 });
});
afterAll(async () => {
  await bot?.stop();
});

describe('slash commands through the real Bolt app', () => {
  it('answers /opsbot whoami with ids, groups and what the caller may run here', async () => {
    const { reply } = await run('U0DEV', 'C0DEV', '/opsbot', 'whoami');
    expect(reply.responseType).toBe('ephemeral');
    expect(reply.text).toContain('*You are* <@U0DEV> (`U0DEV`) in <#C0DEV>');
    expect(reply.text).toContain('*Your user groups named in the policy:* <!subteam^S0PLATFORM>');
    expect(reply.text).toContain('`devenv:up`');
    expect(reply.text).not.toContain('`devenv:down`');
    const record = await auditOf('opsbot:whoami');
    expect(record).toMatchObject({ action: 'opsbot:whoami', actor: 'U0DEV', outcome: 'success' });
    expect(record.details).toMatchObject({
      kind: 'command',
      team: 'T0SANDBOX',
      channel: 'C0DEV',
      decision: 'allowed',
      result: 'ok',
    });
    expect(record.details.credentials).toMatch(/^slack@[0-9a-f-]{36}$/);
    expect(typeof record.details.latencyMs).toBe('number');
  });

  it('generates help from the registry showing only what the caller may run', async () => {
    const dev = await run('U0DEV', 'C0DEV', '/gh', 'help');
    expect(dev.reply.text).toContain(
      '`/gh pr list <owner/repo> [--author @login|me] [--state open|closed] [--limit N]`',
    );
    const guest = await run('U0GUEST', 'C0RANDOM', '/gh', '');
    expect(guest.reply.text).toContain('You may not run any of it here');
    expect(guest.reply.text).not.toContain('pr list');
    const overview = await run('U0GUEST', 'C0RANDOM', '/opsbot', 'help');
    expect(overview.reply.text).toContain(
      '*/gh* — GitHub pull requests, issues and Actions runs\n      you may run: _nothing here_',
    );
  });

  it('denies by default, says what would be needed, and audits the denial', async () => {
    const { reply } = await run('U0GUEST', 'C0DEV', '/devenv', 'up small');
    expect(reply.text).toBe(':no_entry: `devenv:up` is allowed in <#C0DEV> for <!subteam^S0PLATFORM>.');
    expect(await auditOf('devenv:up')).toMatchObject({
      action: 'devenv:up',
      actor: 'U0GUEST',
      outcome: 'denied',
      details: { decision: 'denied', args: 'template=small', errorCode: 'opsbot_access_denied' },
    });
    const admin = await run('U0DEV', 'C0DEV', '/opsbot', 'audit');
    expect(admin.reply.text).toBe(':no_entry: `opsbot:audit` is for opsbot admins only.');
  });

  it('decides access on the subcommand before reading its arguments', async () => {
    const lastBy = async (actor: string) => {
      await expect.poll(async () => (await lastAudit()).actor).toBe(actor);
      return lastAudit();
    };
    const guest = await run('U0GUEST', 'C0RANDOM', '/opsbot', 'audit --user @x');
    expect(guest.reply.text).toBe(':no_entry: `opsbot:audit` is for opsbot admins only.');
    expect(await lastBy('U0GUEST')).toMatchObject({
      action: 'opsbot:audit',
      outcome: 'denied',
      details: { decision: 'denied', errorCode: 'opsbot_access_denied' },
    });
    const quote = await run('U0GUEST', 'C0RANDOM', '/gh', 'pr list "acme/web');
    expect(quote.reply.text).toContain(':no_entry: `gh:pr list` is allowed in <#C0DEV>');
    // Allowed, then the arguments: usage, and the record says allowed.
    const dev = await run('U0DEV', 'C0DEV', '/gh', 'pr list acme --limit 5');
    expect(dev.reply.text).toContain('<repo> must be a repository, like `acme/web`');
    expect(await lastBy('U0DEV')).toMatchObject({
      action: 'gh:pr list',
      outcome: 'error',
      details: { decision: 'allowed', result: 'user_error' },
    });
    // An unknown subcommand is still answered with suggestions, whoever asks.
    const typo = await run('U0GUEST', 'C0RANDOM', '/gh', 'pr lst acme/web');
    expect(typo.reply.text).toContain('Did you mean `/gh pr list`?');
    expect(await lastBy('U0GUEST')).toMatchObject({ action: 'gh:?', details: { result: 'user_error' } });
  });

  it('warns at start-up about a rule pattern that matches none of the actions', () => {
    expect(
      bot.logLines.some((l) =>
        l.includes(
          'access.rules[2].actions[0]: \\"gh:prs\\" matches none of opsbot\'s actions; did you mean \\"gh:pr\\"?',
        ),
      ),
    ).toBe(true);
  });

  it('names no person when no rule allows an action: only opsbot admins may run it', async () => {
    const { reply } = await run('U0DEV', 'C0DEV', '/jira', 'issue OPS-1');
    expect(reply.text).toBe(
      ':no_entry: No rule allows `jira:issue` yet, so only opsbot admins may run it; ask one of them to add a rule.',
    );
    expect(reply.text).not.toContain('U0ADMIN');
  });

  it('answers bad arguments with usage and the closest subcommand, escaping what was typed', async () => {
    const typo = await run('U0DEV', 'C0DEV', '/gh', 'prs acme/web');
    expect(typo.reply.text).toContain('Did you mean `/gh pr`?');
    expect(await auditOf('gh:?')).toMatchObject({ action: 'gh:?', details: { result: 'user_error' } });
    const injection = await run('U0DEV', 'C0DEV', '/probe', 'nope <!channel> &lt;!here&gt;');
    expect(injection.reply.text).not.toMatch(/<!(channel|here)/);
    // In free text a broadcast is plain text (`@everyone`), for the handler to carry or escape.
    const broadcast = await run('U0DEV', 'C0DEV', '/probe', 'echo <!everyone> now');
    expect(broadcast.reply.text).toBe('echo: @everyone now');
    const quotes = await run('U0DEV', 'C0DEV', '/gh', 'pr list "acme/web');
    expect(quotes.reply.text).toContain('Unbalanced quote');
    const controls = await run('U0DEV', 'C0DEV', '/gh', 'pr list acme/web\u0000');
    expect(controls.reply.text).toContain('control or direction-override character');
    const long = await run('U0DEV', 'C0DEV', '/gh', 'x'.repeat(10_000));
    expect(long.reply.text).toContain('The command text is too long: at most 4000 characters.');
  });

  it('posts in_channel when the handler says the result is for everyone', async () => {
    const { reply } = await run('U0DEV', 'C0DEV', '/probe', 'echo hello <@U0ADMIN|ada>');
    expect(reply).toMatchObject({ responseType: 'in_channel', text: 'echo: hello @ada' });
    expect(bot.slack.messages('C0DEV').at(-1)?.text).toBe('echo: hello @ada');
  });

  it('turns an internal error into an apology with a request id, and logs the error under that id', async () => {
    const { reply } = await run('U0DEV', 'C0DEV', '/probe', 'boom');
    const id = /give your admin this id: ([0-9a-f]{8})/.exec(reply.text ?? '')?.[1];
    expect(id).toBeDefined();
    expect(reply.text).not.toContain('kaboom');
    expect(await auditOf('probe:boom')).toMatchObject({
      action: 'probe:boom',
      outcome: 'error',
      details: { result: 'internal_error', errorId: id, errorCode: 'opsbot_internal' },
    });
    const errors = await bot.metrics.getSingleMetric('opsbot_interaction_errors_total')?.get();
    expect(errors?.values).toContainEqual(
      expect.objectContaining({ labels: { command: 'probe', code: 'opsbot_internal' }, value: 1 }),
    );
    expect(
      bot.logLines.some((l) => l.includes('kaboom with internals') && l.includes(`"requestId":"${id}"`)),
    ).toBe(true);
  });

  it('acknowledges before slow work starts, and answers when it is done', async () => {
    const delivery = await bot.slack.sendSlashCommand({
      command: '/probe',
      text: 'slow',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    expect(delivery.status).toBe(200);
    expect(bot.slack.responses(delivery.responseUrl)).toEqual([]); // acked; the handler is still working
    const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
    expect(reply?.text).toBe('done at last');
  });

  it('sends nothing after the ack when the handler has nothing to say', async () => {
    const delivery = await bot.slack.sendSlashCommand({
      command: '/probe',
      text: 'quiet',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    expect(delivery.status).toBe(200);
    expect(await auditOf('probe:quiet')).toMatchObject({ outcome: 'success' });
    expect(bot.slack.responses(delivery.responseUrl)).toEqual([]);
  });

  it('shows progress in one message it keeps replacing, then the final answer, with one audit record', async () => {
    const before = (await auditRecords()).filter((r) => r.action === 'probe:steps').length;
    const delivery = await bot.slack.sendSlashCommand({
      command: '/probe',
      text: 'steps 2',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    const posts = await bot.slack.waitForResponse(delivery.responseUrl, { count: 3 });
    expect(posts.map((p) => [p.text, p.replaceOriginal === true])).toEqual([
      ['step 1 of 2', false],
      ['step 2 of 2', true],
      ['all steps done', true],
    ]);
    await expect
      .poll(async () => (await auditRecords()).filter((r) => r.action === 'probe:steps').length)
      .toBe(before + 1);
    expect(await auditOf('probe:steps')).toMatchObject({ outcome: 'success', details: { result: 'ok' } });
  });

  it('keeps one response_url use for the final answer however much progress a handler shows', async () => {
    const delivery = await bot.slack.sendSlashCommand({
      command: '/probe',
      text: 'steps 9',
      userId: 'U0DEV',
      channelId: 'C0DEV',
    });
    const posts = await bot.slack.waitForResponse(delivery.responseUrl, { count: 5 });
    expect(posts).toHaveLength(5); // Slack's limit per response_url
    expect(posts.at(-1)?.text).toBe('all steps done');
  });

  it('says what to configure for dev environments when no role is set, without calling AWS', async () => {
    const { reply } = await run('U0ADMIN', 'C0DEV', '/devenv', 'list');
    expect(reply.text).toContain('Dev environments (AWS EC2) is not configured');
    expect(reply.text).toContain('role ARN');
  });
});

describe('buttons and modals', () => {
  it('runs a button press through the policy and audits it', async () => {
    const delivery = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0DEV',
      actionId: 'probe:press',
      value: 'v1',
    });
    expect(delivery.status).toBe(200);
    const [reply] = await bot.slack.waitForResponse(delivery.responseUrl);
    expect(reply?.text).toBe('pressed v1 by U0DEV');
    expect(await auditOf('probe:press')).toMatchObject({
      action: 'probe:press',
      outcome: 'success',
      details: { kind: 'button' },
    });
    const elsewhere = await bot.slack.sendBlockAction({
      userId: 'U0DEV',
      channelId: 'C0RANDOM',
      actionId: 'probe:press',
      value: 'v2',
    });
    const [denied] = await bot.slack.waitForResponse(elsewhere.responseUrl);
    expect(denied?.text).toContain(':no_entry: `probe:press` is allowed in <#C0DEV>');
  });

  it('lets an admin verify the audit chain from the button on /opsbot audit', async () => {
    const { reply } = await run('U0ADMIN', 'C0OPS', '/opsbot', 'audit --limit 5 --user <@U0DEV|dev>');
    expect(reply.text).toMatch(/^Audit trail: 5 records, newest first\n#\d+ · /);
    const buttons = JSON.stringify(reply.blocks);
    expect(buttons).toContain('"action_id":"opsbot:audit"');
    const press = await bot.slack.sendBlockAction({
      userId: 'U0ADMIN',
      channelId: 'C0OPS',
      actionId: 'opsbot:audit',
      value: 'verify',
    });
    const [verified] = await bot.slack.waitForResponse(press.responseUrl);
    expect(verified?.text).toMatch(/^:white_check_mark: The audit trail is intact: \d+ records/);
  });

  it('runs a modal submission and answers ephemerally in the channel it came from', async () => {
    const delivery = await bot.slack.sendViewSubmission({
      userId: 'U0DEV',
      callbackId: 'probe:submit',
      privateMetadata: JSON.stringify({ channel: 'C0DEV' }),
      values: { title: { input: { type: 'plain_text_input', value: 'hello' } } },
    });
    expect(delivery.status).toBe(200);
    await expect
      .poll(() => bot.slack.ephemerals('C0DEV', 'U0DEV').at(-1)?.text)
      .toMatch(/^submitted \d+ bytes$/);
    expect(await auditOf('probe:submit')).toMatchObject({
      action: 'probe:submit',
      details: { kind: 'view', channel: 'C0DEV' },
    });
  });
});

describe('rotation and rate limits', () => {
  it('accepts the new signing secret and token the moment Slack switches, with no restart', async () => {
    const oldToken = bot.provider.current(slack.secret).value.reveal().botToken;
    const rotated = bot.rotateSlack({ finish: false });
    expect(rotated.botToken).not.toBe(oldToken);
    // Slack now signs with the new secret; the bot has not polled yet: it checks the source once.
    const { reply } = await run('U0DEV', 'C0DEV', '/opsbot', 'whoami');
    expect(reply.text).toContain('<@U0DEV>');
    bot.secretsManager.finishRotation('opsbot/slack');
    // The bot still holds the old token as CURRENT (no poll yet). Slack revokes it: the bot's own
    // Web API call is refused once, the bot checks the source, and retries with the new token.
    expect(bot.provider.current(slack.secret).value.reveal().botToken).toBe(oldToken);
    bot.slack.revokeBotToken(oldToken);
    const postsToOps = () =>
      bot.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'C0OPS').length;
    const before = postsToOps();
    const posted = await bot.app.slack.postMessage({ channel: 'C0OPS', text: 'after rotation' });
    expect(postsToOps()).toBe(before + 2); // refused with the revoked token, then retried with the new one
    // The retry used the new token: CURRENT if the source check ran, else the PENDING version it prefetched
    // (the check is rate-limited per version, and the signature check above already made one).
    const held = [bot.provider.current(slack.secret), bot.provider.pending(slack.secret)];
    expect(held.map((c) => c?.value.reveal().botToken)).toContain(rotated.botToken);
    expect(posted.ts).toMatch(/^\d+\.\d{6}$/);
    expect(bot.slack.messages('C0OPS').at(-1)?.text).toBe('after rotation');
  });

  it('waits out a 429 for one channel without holding up another', async () => {
    bot.slack.failNext({
      method: 'chat.postMessage',
      channel: 'C0DEV',
      kind: 'ratelimited',
      retryAfterSeconds: 1,
    });
    const order: string[] = [];
    const limited = bot.app.slack
      .postMessage({ channel: 'C0DEV', text: 'limited' })
      .then(() => order.push('C0DEV'));
    await new Promise((r) => setTimeout(r, 100));
    await bot.app.slack.postMessage({ channel: 'C0OPS', text: 'free' }).then(() => order.push('C0OPS'));
    await limited;
    expect(order).toEqual(['C0OPS', 'C0DEV']);
    const statuses = bot.slack.calls
      .filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'C0DEV')
      .map((c) => c.status);
    expect(statuses).toContain(429);
    expect(statuses.at(-1)).toBe(200);
  });
});

describe('refused requests execute nothing', () => {
  const form =
    'command=%2Fprobe&text=echo+x&user_id=U0DEV&channel_id=C0DEV&team_id=T0SANDBOX&response_url=http%3A%2F%2F127.0.0.1%3A1%2Fx';

  it('401 unsigned, badly signed, replayed or far-future; 413 oversized; 400 malformed', async () => {
    const before = (await bot.state.audit.query({ limit: 200 })).length;
    const now = Math.floor(Date.now() / 1_000);
    const cases: [string, { body: string; headers: Record<string, string> }, number][] = [
      ['unsigned', { body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 401],
      [
        'wrong secret',
        { body: form, headers: bot.slack.signedHeaders(form, { secret: 'test-canary-not-the-secret' }) },
        401,
      ],
      [
        'replayed (6 min old)',
        { body: form, headers: bot.slack.signedHeaders(form, { timestamp: now - 360 }) },
        401,
      ],
      ['far future', { body: form, headers: bot.slack.signedHeaders(form, { timestamp: now + 360 }) }, 401],
      ['body changed after signing', { body: `${form}x`, headers: bot.slack.signedHeaders(form) }, 401],
      ['oversized', { body: 'x'.repeat(1_100_000), headers: bot.slack.signedHeaders('x') }, 413],
      ['not a command', { body: 'hello=1', headers: bot.slack.signedHeaders('hello=1') }, 400],
      [
        'bad JSON payload',
        { body: 'payload=%7Bnope', headers: bot.slack.signedHeaders('payload=%7Bnope') },
        400,
      ],
      [
        'bad JSON body',
        { body: '{nope', headers: bot.slack.signedHeaders('{nope', { contentType: 'application/json' }) },
        400,
      ],
    ];
    for (const [name, request, status] of cases) {
      const res = await bot.slack.sendRaw(request);
      expect(res.status, name).toBe(status);
    }
    expect((await bot.state.audit.query({ limit: 200 })).length).toBe(before);
    expect(bot.slack.messages('C0DEV').some((m) => m.text === 'echo: x')).toBe(false);
  });

  it('answers Slack URL verification', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'abc123' });
    const res = await bot.slack.sendRaw({
      body,
      headers: bot.slack.signedHeaders(body, { contentType: 'application/json' }),
    });
    expect(res).toEqual({ status: 200, body: '{"challenge":"abc123"}\n' });
  });
});

describe('no secret leaks', () => {
  it('keeps every canary out of logs, Slack payloads, audit records and calls', async () => {
    const responses = bot.slack.calls;
    assertNoCanary(
      {
        logs: bot.logLines.join('\n'),
        audit: await bot.state.audit.query({ limit: 200 }),
        calls: responses,
        messages: bot.slack.messages('C0DEV'),
      },
      bot.secrets(),
    );
  });
});
