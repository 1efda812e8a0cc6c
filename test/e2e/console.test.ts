import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { consoleArgs, runConsole } from '../../src/console.js';
import { nodeVersionProblem } from '../../src/node-version.js';
import { datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import type { SandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { assertNoCanary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';
import { exitOf, ROOT } from '../helpers/process.js';

/** Types `lines` into a fresh console, then closes its input; resolves once it has stopped. */
async function session(lines: readonly string[]): Promise<{ text: string; bot: SandboxBot; ms: number }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (d) => (text += d));
  let bot: SandboxBot | undefined;
  let started = 0;
  const done = runConsole(input, output, {
    onStart: (b) => {
      bot = b;
      started = performance.now();
    },
  });
  for (const line of lines) input.write(`${line}\n`);
  input.end();
  await done;
  if (!bot) throw new Error('the console never started its bot');
  assertNoCanary({ console: text }, bot.secrets());
  return { text, bot, ms: performance.now() - started };
}

/** Terminal output as read: without readline's cursor moves and line clearing. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
const CURSOR = /\u001b\[[0-9;]*[A-Za-z]|\r/g;
const plain = (text: string) => text.replace(CURSOR, '');

/**
 * A console driven one line at a time, as a person types: `type` sends a line once the prompt
 * waits, `until` waits for the output to match; `stop` closes the input and waits for the end.
 * `tty` makes both ends terminals (readline then owns the line being typed).
 */
async function live(options: { tty?: boolean; secretSource?: 'aws' | 'vault'; socketMode?: boolean } = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  if (options.tty) {
    Object.assign(input, { isTTY: true, setRawMode: () => input });
    Object.assign(output, { isTTY: true, columns: 200, rows: 50 });
  }
  let text = '';
  output.on('data', (d) => (text += d));
  let started: SandboxBot | undefined;
  const done = runConsole(input, output, {
    onStart: (b) => (started = b),
    ...(options.secretSource ? { secretSource: options.secretSource } : {}),
    ...(options.socketMode ? { socketMode: true } : {}),
  });
  const bot = await eventually(() => started, 'the console to start its bot', 15_000);
  /** Resolves once the output from `from` on, as read, matches `pattern`. */
  const until = (pattern: RegExp, from = 0) =>
    eventually(
      () => pattern.exec(plain(text.slice(from))) ?? undefined,
      `console output matching ${pattern}`,
      15_000,
    );
  await until(/dev@#dev> $/);
  return {
    bot,
    text: () => text,
    until,
    /** Types `line` (and Enter unless `enter` is false), then waits until the prompt is back. */
    async type(line: string, { enter = true } = {}) {
      const from = text.length;
      input.write(enter ? `${line}\n` : line);
      if (enter) await until(/[>:] $/, from);
      return from;
    },
    async stop() {
      input.end();
      await done;
      assertNoCanary({ console: text }, bot.secrets());
    },
  };
}

/** `npm run console` as a new user runs it, with stdin and stdout as pipes. */
function spawnConsole(nodeArgs: readonly string[] = [], args: readonly string[] = []) {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/console.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return { child, output: () => ({ stdout, stderr }) };
}

async function poll<T>(read: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm run console', () => {
  it('runs slash commands as a chosen user in a chosen channel, renders replies, presses buttons', async () => {
    const { text } = await session([
      ':help',
      ':status',
      '/opsbot help',
      '/gh prs acme/web',
      '/gh pr list acme/web',
      ':as U0GUEST',
      '/devenv up small',
      ':as ada',
      ':in #ops',
      '/opsbot audit --limit 3',
      ':click 1',
      ':click 9',
      ':secrets',
      ':rotate slack',
      '/opsbot whoami',
      ':rotate github hold',
      ':rotate nope',
      ':audit',
      ':as nobody',
      'hello',
      ':logs',
      ':quit',
    ]);
    expect(text).toContain('opsbot console: the bot runs at http://127.0.0.1:');
    expect(text).toContain(
      'HTTP mode: Slack posts to /slack/events, :alert to /webhooks/datadog, :event to /webhooks/aws-events',
    );
    expect(text).toContain('                      HTTP mode: to the bot, POST /webhooks/datadog');
    expect(text).toContain(
      ':click <n|name>     press button n (or an option of a menu) of the latest reply that has buttons,',
    );
    expect(text).toContain('health: ok · ready: yes');
    expect(text).toContain('dev@#dev> opsbot (only you can see this):\n  *What you may run in #dev*');
    expect(text).toContain('`prs` is not a `/gh` subcommand. Did you mean `/gh pr`?');
    expect(text).toContain('  acme/web: 2 open pull requests\n');
    expect(text).toContain(
      '  • #42 Fix login redirect on Safari (https://github.com/acme/web/pull/42) by octocat',
    );
    expect(text).toContain('now acting as guest (U0GUEST)');
    expect(text).toContain(':no_entry: `devenv:up` is allowed in #dev for @platform.');
    expect(text).toContain('now in #ops (C0OPS)');
    expect(text).toMatch(
      /Audit trail: 3 records, newest first\n\s+═+\n\s+#\d+ · .* · @guest in #dev · `devenv:up` `template=small` · denied/,
    );
    expect(text).toContain('[1 Verify the chain]');
    expect(text).toMatch(/The audit trail is intact: \d+ records/);
    expect(text).toContain(
      'no button 9: the reply to /opsbot audit --limit 3 has one button, [1 Verify the chain]',
    );
    expect(text).toMatch(/opsbot\/slack: using [0-9a-f]{8} · store: [0-9a-f]{8}=AWSCURRENT/);
    expect(text).toContain('opsbot/slack: new bot token and signing secret rotated');
    expect(text).toContain('*You are* @ada (`U0ADMIN`) in #ops');
    expect(text).toMatch(
      /opsbot\/github: a new App private key, added to the App: version [0-9a-f]{8} staged as AWSPENDING/,
    );
    expect(text).toMatch(/usage: :rotate <slack\|github\|jira\|datadog[a-z|]*> \[hold\|finish\]/);
    // The details as stored: the record's canonical JSON (keys sorted), the text its hash covers.
    expect(text).toMatch(/#\d+ \S+ U0GUEST devenv:up denied \{[^\n]*"kind":"command"/);
    expect(text).toMatch(/The audit trail is intact: \d+ records, every hash and link checks out/);
    expect(text).toContain('unknown user nobody; choose from U0ADMIN (ada)');
    expect(text).toContain('I don\'t know "hello"');
    expect(text).toMatch(/\n {2}\d\d:\d\d:\d\d INFO {2}secret version changed · component=credentials/);
    expect(text.trim().endsWith('bye')).toBe(true);
  });

  it('shows the form /gh issue create opens, asks for each input, and submits it through Slack', async () => {
    const { text, bot } = await session([
      '/gh issue create',
      '',
      'acme/web',
      'Login fails on Safari',
      'Steps: open /login',
      'bug, p2',
      '',
      '/gh issue create',
      ':cancel',
      '/gh issue create',
      'not a repo',
      'Broken',
      '',
      '',
      '',
      ':cancel',
      '/gh issue create',
      ':quit',
      '/opsbot whoami',
    ]);
    expect(text).toContain(
      [
        'dev@#dev> opsbot opened a form:',
        '  New GitHub issue',
        '    Repository     [acme/web                      ]',
        '    Title          [What is wrong?                ]',
        '    Description    [Steps, expected, actual       ]  optional · several lines (type \\n for a new one)',
        '    Labels         [bug, p2                       ]  optional',
        '    (Create) (Cancel)',
        'Fill it in one field at a time: Enter leaves an optional field empty or keeps the value shown, :clear empties it, :cancel closes the form.',
        'Repository: Repository is required.',
        'Repository: Title: Description (optional): Labels (optional):   1 Repository     acme/web',
      ].join('\n'),
    );
    expect(text).toContain(
      'New GitHub issue> submitted New GitHub issue (Create)\nopsbot (in #dev):\n  :memo: @dev opened acme/web#',
    );
    expect(text).toMatch(
      /:memo: @dev opened acme\/web#(\d+) \(https:\/\/github\.com\/acme\/web\/issues\/\1\): Login fails on Safari\n/,
    );
    expect(bot.github.repo('acme', 'web')?.issues.at(-1)).toMatchObject({
      title: 'Login fails on Safari',
      body: 'Steps: open /login',
      labels: ['bug', 'p2'],
    });
    expect(text).toContain('Repository: closed New GitHub issue; nothing was sent');
    // The bot refuses the repository inline (response_action: errors): the form asks for it again.
    expect(text).toContain(
      'New GitHub issue> submitted New GitHub issue (Create)\nRepository: A repository such as acme/web.\nRepository [Enter keeps "not a repo"]: closed New GitHub issue; nothing was sent',
    );
    expect(bot.slack.calls.filter((c) => c.method === 'views.open' && c.status === 200)).toHaveLength(4);
    expect(text).toMatch(/Repository: \nbye\n$/); // :quit leaves even from a form
    expect(text).not.toContain('*You are*');
  });

  it('answers an unknown slash command at once, as Slack does, with the closest command', async () => {
    const { text, ms } = await session(['/ghh', '/', '/GH help']);
    expect(text).toContain(
      'dev@#dev> Slack (only you can see this):\n  /ghh is not a valid command. Did you mean /gh?\n  opsbot’s commands:\n  /gh       GitHub pull requests, issues and Actions runs\n',
    );
    expect(text).toContain('Slack (only you can see this):\n  / is not a valid command.\n');
    expect(text).toContain('/GH is not a valid command. Did you mean /gh?');
    expect(ms).toBeLessThan(3_000);
  });

  it('sends @user, #channel and @group as the Slack client does, so README’s examples work', async () => {
    const { text } = await session([
      '/opsbot whoami',
      ':as ada',
      '/opsbot audit --user @dev --limit 1',
      '/opsbot audit --user @nobody',
    ]);
    expect(text).toMatch(
      /Audit trail: 1 records?, newest first\n\s+═+\n\s+#\d+ · .* · @dev in #dev · `opsbot:whoami`/,
    );
    // a name the workspace does not know stays text, as in Slack; the console says so
    expect(text).toContain(
      'ada@#dev> (@nobody is no one in this workspace, so Slack sends it as text; try @ada, @dev, @guest, @lead, @platform or @leads)\nopsbot (only you can see this):\n  --user must be a user, like @alice or `me`; got `@nobody`.',
    );
  });

  it('holds `/devenv up large` for a lead: :click Approve as the lead runs it as dev, in the request’s thread', async () => {
    const c = await live();
    await c.type('/devenv up large --name big');
    await c.until(/needs a second person/);
    await c.type(':click Approve');
    await c.until(/You cannot approve your own request/);
    await c.type(':as lead');
    const from = await c.type(':click Approve');
    // The lead's press runs it as dev; the answer follows in the request's thread.
    await c.until(/Approved by @lead at .* UTC; it ran/, from);
    const out = plain(c.text());
    expect(out).toMatch(
      /@dev `devenv:up` template=large name=big \(request `R-[0-9A-Z]{8}`, approved by @lead\)/,
    );
    expect(out).not.toContain('<!date^');
    const instance = c.bot.aws.ec2.instances().find((i) => i.tags.Name === 'big');
    expect(instance?.tags.Owner).toBe('U0DEV');
    await c.stop();
  }, 60_000);

  it('numbers the buttons of each reply from 1; :click presses one of the latest reply with buttons', async () => {
    const { text } = await session([
      ':as ada',
      '/opsbot audit --limit 1',
      '/opsbot audit --limit 2',
      ':click 2',
      ':click 1',
      ':click 1',
    ]);
    expect(text).not.toContain('[2 Verify the chain]');
    expect(text.match(/\n {2}\[1 Verify the chain\]\n/g)).toHaveLength(2);
    expect(text).toContain(
      'no button 2: the reply to /opsbot audit --limit 2 has one button, [1 Verify the chain]',
    );
    expect(
      text.match(/pressing \[1 Verify the chain\] of the reply to \/opsbot audit --limit 2/g),
    ).toHaveLength(2);
    expect(text).toMatch(/The audit trail is intact: \d+ records/);
  });

  it('fires Datadog alerts: a root with buttons, a later transition in its thread, a storm as a digest', async () => {
    const { text, bot } = await session([
      ':alert Triggered Disk full on <!channel> db-1',
      ':click 1',
      ':alert Recovered',
      ':alert Exploded',
      ':storm 15',
      '/dd alerts',
    ]);
    expect(text).toMatch(/Datadog sent Triggered for monitor \d+ .*: opsbot answered 202/);
    expect(text).toContain('opsbot (in #alerts):');
    expect(text).toMatch(/\[1 Acknowledge\]/);
    expect(text).toContain('[3 Mute 4 hours]');
    expect(text).toContain('pressing [1 Acknowledge]');
    expect(text).toMatch(/Acknowledged by @dev/);
    expect(text).toMatch(/Datadog sent Recovered for monitor \d+/);
    expect(text).toMatch(/opsbot \(updated a message in #alerts\)/);
    // Not a transition: it is the title (Triggered by default).
    expect(text).toContain('[P2] [Triggered on {host:web-1}] Exploded): opsbot answered 202');
    expect(text).toMatch(/:red_circle: \*Triggered\* · P2 · Exploded \(https:/);
    expect(text).toMatch(/Datadog sent 15 alerts at once; opsbot accepted 15/);
    expect(text).toMatch(/\d+ alerts in the last \d+ min/);
    expect(text).toMatch(/Datadog alerts? received in the last 1h/);
    // The title's <!channel> reached Slack escaped: the console shows it as text, never a mention.
    // (A button's value is never shown: the "Create Jira issue" pre-fill may carry the title as is.)
    const posted = JSON.stringify(bot.slack.messages('C0ALERTS'), (key, v) => (key === 'value' ? '' : v));
    expect(posted).toContain('&lt;!channel&gt;');
    expect(posted).not.toContain('<!channel>');
  });

  it('fills the Jira create form /jira create opens, users_select included, and creates the issue', async () => {
    const { text, bot } = await session([
      '/jira create',
      'OPS',
      '2',
      'Rotate the staging certificate',
      'It expires on Friday.\\nSee the runbook.',
      '',
      'dev',
      '',
    ]);
    expect(text).toContain(
      [
        'dev@#dev> opsbot opened a form:',
        '  New Jira issue',
        '    Project        [OPS                           ]',
        '    Issue type     [Task                         ▾]  Task / Bug / Story',
        '    Summary        [What needs doing?             ]',
      ].join('\n'),
    );
    expect(text).toContain(
      '    Assignee       [Unassigned                   ▾]  optional · ada / dev / guest / lead · People opsbot knows in Jira',
    );
    expect(text).toContain('Assignee (optional; 1 ada, 2 dev, 3 guest, 4 lead): ');
    expect(text).toContain('  6 Assignee       dev\n');
    const key =
      /:memo: @dev created (OPS-\d+) \(http:\/\/127\.0\.0\.1:\d+\/browse\/\1\): Rotate the staging certificate, assigned to @dev\n/.exec(
        text,
      )?.[1];
    expect(key).toBeDefined();
    expect(bot.jira.issue(key as string)).toMatchObject({
      project: 'OPS',
      summary: 'Rotate the staging certificate',
      issuetype: 'Bug',
      assignee: '5b10a2844c20165700ede21g', // jira.users: U0DEV in the sandbox's configuration
    });
  });

  it('shows the bot refusing an assignee who has no Jira account, and asks for that field again', async () => {
    const { text, bot } = await session([
      '/jira create',
      '',
      '',
      'Flaky login test',
      '',
      '',
      '@guest',
      '',
      ':clear',
      '',
    ]);
    expect(text).toContain('  6 Assignee       guest\n');
    expect(text).toContain(
      'New Jira issue> submitted New Jira issue (Create)\nAssignee: opsbot does not know this person in Jira: an opsbot admin maps them under jira.users. Leave it empty to create the issue unassigned.\nAssignee (optional; 1 ada, 2 dev, 3 guest, 4 lead) [Enter keeps "guest"]: ',
    );
    expect(text).toContain('  6 Assignee       –\n');
    expect(text).toMatch(/:memo: @dev created OPS-\d+ \(.*\): Flaky login test\n/);
    const created = bot.jira.issues().filter((i) => i.summary === 'Flaky login test');
    expect(created).toHaveLength(1); // the refused submission created nothing
    expect(created[0]).toMatchObject({ issuetype: 'Task', assignee: null });
  });

  it('presses the Move menu and Assign to me under /jira issue', async () => {
    const { text, bot } = await session([
      '/jira issue OPS-1',
      ':click 4',
      '/jira issue OPS-1',
      ':as ada',
      ':click 1',
    ]);
    expect(text).toContain('[1 Assign to me] Move to… [2 To Do] [3 In Review] [4 Done] [5 Comment]');
    expect(text).toContain('pressing [4 Done] of the reply to /jira issue OPS-1');
    expect(text).toMatch(
      /:arrow_right: @dev moved OPS-1 \(.*\/browse\/OPS-1\) from In Progress to \*Done\*\./,
    );
    expect(text).toContain('[1 Assign to me] Move to… [2 To Do] [3 In Progress] [4 In Review] [5 Comment]');
    expect(text).toMatch(/:bust_in_silhouette: @ada assigned OPS-1 \(.*\) to @ada\./);
    expect(bot.jira.issue('OPS-1')).toMatchObject({
      statusId: '10002', // Done
      assignee: '5b10ac8d82e05b22cc7d4ef5', // jira.users: U0ADMIN
    });
  });

  it('posts a message with :say, and :shortcut "Create Jira issue" files it and answers in its thread', async () => {
    const { text, bot } = await session([
      ':shortcut',
      ':say the login page is slow',
      ':shortcut',
      ...Array.from({ length: 6 }, () => ''),
      '',
    ]);
    expect(text).toContain('no message in #dev yet: post one with `:say the login page is slow`');
    expect(text).toContain('dev@#dev> dev (in #dev):\n  the login page is slow\n');
    expect(text).toContain(
      'using "Create Jira issue" on your message "the login page is slow" in #dev\nopsbot opened a form:',
    );
    expect(text).toContain('    Summary        [the login page is slow        ]');
    const said = bot.slack.messages('C0DEV').find((m) => m.user === 'U0DEV');
    expect(said?.text).toBe('the login page is slow');
    const reply = bot.slack
      .messages('C0DEV')
      .find((m) => m.threadTs === said?.ts && m.text?.includes('/browse/'));
    expect(reply?.text).toMatch(
      /:memo: <@U0DEV> created <http:\/\/127\.0\.0\.1:\d+\/browse\/OPS-\d+\|OPS-\d+>/,
    );
    expect(text).toMatch(
      /opsbot \(in a thread in #dev\):\n {2}:memo: @dev created OPS-\d+ .*: the login page is slow\n/,
    );
    const key = /\/browse\/(OPS-\d+)/.exec(reply?.text ?? '')?.[1] ?? '';
    const issue = bot.jira.issue(key);
    expect(issue?.summary).toBe('the login page is slow');
    expect(JSON.stringify(issue?.description)).toContain(
      `From Slack: https://sandbox.slack.com/archives/C0DEV/p${said?.ts.replace('.', '')}`,
    );
  });

  it('presses "Create Jira issue" on an alert: the form is pre-filled from it, the link lands in its thread', async () => {
    const { text, bot } = await session([
      // SAMPLE_POLICY allows jira:* in #dev and #ops only; an admin may create from #alerts.
      ':as ada',
      ':alert Triggered Disk full on db-1',
      ':click Create Jira issue',
      ...Array.from({ length: 6 }, () => ''),
      '',
    ]);
    expect(text).toMatch(
      /pressing \[6 Create Jira issue\] of the reply to the alert \d+\nopsbot opened a form:/,
    );
    expect(text).toContain('    Issue type     [Bug                          ▾]');
    expect(text).toContain('    Summary        [Disk full on db-1             ]');
    expect(text).toContain('    Description    [Datadog alert');
    const root = bot.slack
      .messages('C0ALERTS')
      .find((m) => !m.threadTs && m.text?.includes('Disk full on db-1'));
    expect(root).toBeDefined();
    const reply = bot.slack
      .messages('C0ALERTS')
      .find((m) => m.threadTs === root?.ts && m.text?.includes('/browse/'));
    expect(reply?.text).toMatch(/:memo: <@U0ADMIN> created <.*\/browse\/(OPS-\d+)\|\1>: Disk full on db-1/);
    expect(text).toMatch(
      /opsbot \(in a thread in #alerts\):\n {2}:memo: @ada created OPS-\d+ .*: Disk full on db-1\n/,
    );
    const key = /\/browse\/(OPS-\d+)/.exec(reply?.text ?? '')?.[1] ?? '';
    expect(bot.jira.issue(key)).toMatchObject({ summary: 'Disk full on db-1', issuetype: 'Bug' });
  });

  it('starts a dev environment end to end on the simulated AWS, and :time brings the expiry warning', async () => {
    const { text } = await session([
      '/devenv up small --name web-1',
      '/devenv list',
      ':time',
      ':time +3h40m',
      ':time soon',
    ]);
    expect(text).toMatch(/`web-1` \(i-[0-9a-f]{17}\) is \*?pending/);
    // The reply replaces itself at each poll; the console shows it once per real change.
    expect(text.match(/is \*pending\*/g)).toHaveLength(1);
    expect(text.match(/is \*running\*/g)?.length).toBeGreaterThanOrEqual(1);
    expect(text).toContain(
      'opsbot (updated its reply, only you can see this):\n  :large_green_circle: `web-1`',
    );
    expect(text).toMatch(/`web-1` \(i-[0-9a-f]{17}\) is \*running\* · t3\.medium · 10\.0\.\d+\.\d+/);
    expect(text).toMatch(/aws ssm start-session --target i-[0-9a-f]{17}/);
    expect(text).toMatch(/\[\d+ Extend 2h\] \[\d+ Stop \(terminate\)\]/);
    expect(text).toMatch(/1 dev environment of yours/);
    expect(text).toContain('The sandbox is on real time');
    expect(text).toMatch(/moved the clock forward 3h40m: it is now .* UTC/);
    expect(text).toMatch(
      /opsbot \(in your DM with opsbot\):\n\s+:alarm_clock: Your dev environment `web-1` \(i-[0-9a-f]{17}\) expires in \d+ minutes/,
    );
    expect(text).toContain('usage: :time +25m');
  }, 60_000);

  it('shows log lines readably: warnings first, then by level, audit records on demand', async () => {
    const { text } = await session([':logs', ':logs audit 2', ':logs warn', ':logs 1', ':logs loud']);
    expect(text).not.toContain('{"level"');
    expect(text).toContain('no warnings or errors so far.\nrecent lines (');
    expect(text).toMatch(/\n {2}\d\d:\d\d:\d\d INFO {2}opsbot listening/);
    expect(text).toMatch(
      /\n\d\d:\d\d:\d\d AUDIT #\d+ secret\.loaded · integration=\w+ actor=opsbot outcome=success/,
    );
    expect(text).toMatch(/no warnings or errors in the last \d+ log lines\./);
    expect(text).toContain('usage: :logs [warn|error|audit|all] [n]');
  });

  it('says plainly when a rotation has nothing to finish', async () => {
    const { text } = await session([':rotate github finish', ':rotate github hold', ':rotate github finish']);
    expect(text).toContain(
      'nothing to finish: opsbot/github has no pending version; `:rotate github hold` stages one',
    );
    expect(text).not.toContain("can't find the specified secret value");
    expect(text).toContain('opsbot/github: rotation finished');
  });

  it('rotates jira, datadog and audit as README says, and each keeps working once the bot uses the new secret', async () => {
    const c = await live();
    const { bot } = c;
    const read = (from: number) => plain(c.text().slice(from));
    /** Waits until the bot uses the version Secrets Manager calls current (it polls every 5 s). */
    const caughtUp = (integration: string) =>
      eventually(() => {
        const stages = Object.entries(bot.secretsManager.stagesOf(`opsbot/${integration}`));
        const current = stages.find(([, s]) => s.includes('AWSCURRENT'))?.[0];
        return bot.provider.isLoaded(integration) && bot.provider.current(integration).versionId === current;
      }, `the bot to use the new ${integration} secret`);

    let from = await c.type(':rotate jira');
    expect(read(from)).toMatch(
      /opsbot\/jira: Jira issued a new API token: version [0-9a-f]{8} staged as AWSPENDING/,
    );
    expect(read(from)).toMatch(
      /opsbot\/jira: the bot uses version [0-9a-f]{8}; the old API token is revoked at Jira/,
    );
    await caughtUp('jira');
    from = await c.type('/jira issue OPS-1');
    expect(read(from)).toContain('OPS-1: Users hit login timeout after SSO redirect');

    from = await c.type(':rotate datadog');
    // The bot accepts the new webhook secret before Datadog sends it; then the keys move.
    expect(read(from)).toContain(
      'the bot accepts the new webhookSecret as well as the old one; Datadog now sends the new one',
    );
    expect(read(from)).toMatch(/the old API and application keys are revoked at Datadog/);
    await caughtUp('datadog');
    from = await c.type('/dd monitor 1001');
    expect(read(from)).toContain('High error rate on web');
    // Past the grace period of the old webhook secret: Datadog must be sending the new one.
    await c.type(':time +6m');
    from = await c.type(':alert Triggered Disk full on db-1');
    expect(read(from)).toMatch(
      /Datadog sent Triggered for monitor \d+ \(.*Disk full on db-1\): opsbot answered 202/,
    );
    expect(read(from)).toMatch(
      /opsbot \(in #alerts\):\n {2}:red_circle: \*Triggered\* · P2 · Disk full on db-1/,
    );

    from = await c.type(':rotate audit');
    expect(read(from)).toMatch(
      /opsbot\/audit: the bot uses version [0-9a-f]{8}: the next audit record is `audit.key_rotated`/,
    );
    await caughtUp('audit');
    await c.type(':as ada');
    from = await c.type('/opsbot audit --verify');
    expect(read(from)).toMatch(/The audit trail is intact: \d+ records, every hash and link checks out/);
    from = await c.type(':audit');
    expect(read(from)).toMatch(/#\d+ \S+ opsbot audit\.key_rotated success/);
    expect(bot.logLines.join('\n')).not.toMatch(/"level":50/);
    await c.stop();
  }, 120_000);

  it('runs on the simulated Vault (OPSBOT_SECRET_SOURCE=vault): every integration works, :rotate writes a new KV version', async () => {
    const c = await live({ secretSource: 'vault' });
    const { bot } = c;
    const read = (from: number) => plain(c.text().slice(from));
    expect(plain(c.text())).toMatch(
      /and a simulated Vault \(http:\/\/127\.0\.0\.1:\d+\) holding canary secrets in KV v2/,
    );
    let from = await c.type(':secrets');
    expect(read(from)).toMatch(/opsbot\/slack: using 1 · store: vault: KV version 1 current/);
    from = await c.type('/gh pr list acme/web');
    expect(read(from)).toContain('acme/web: 2 open pull requests');
    from = await c.type('/jira issue OPS-1');
    expect(read(from)).toContain('OPS-1: Users hit login timeout after SSO redirect');
    from = await c.type('/dd monitor 1001');
    expect(read(from)).toContain('High error rate on web');

    from = await c.type(':rotate jira');
    expect(read(from)).toMatch(
      /opsbot\/jira: written to Vault as KV version 2 \(secret\/data\/opsbot\/jira\)/,
    );
    expect(read(from)).toMatch(/opsbot\/jira: the bot uses KV version 2/);
    from = await c.type('/jira issue OPS-1');
    expect(read(from)).toContain('OPS-1: Users hit login timeout after SSO redirect');

    // Made by opsbot's rotation function (new keys at Datadog, the webhook switched), written to Vault.
    from = await c.type(':rotate datadog');
    expect(read(from)).toMatch(/opsbot\/datadog: the bot uses KV version 2/);
    from = await c.type('/dd monitor 1001');
    expect(read(from)).toContain('High error rate on web');
    await c.type(':time +6m');
    from = await c.type(':alert Triggered Disk full on db-1');
    expect(read(from)).toMatch(
      /Datadog sent Triggered for monitor \d+ \(.*Disk full on db-1\): opsbot answered 202/,
    );

    await c.type(':as ada');
    from = await c.type('/opsbot rotate slack');
    expect(read(from)).toMatch(
      /Not available with OPSBOT_SECRET_SOURCE=vault: .*new KV version \(vault kv put/,
    );
    from = await c.type('/opsbot audit --verify');
    expect(read(from)).toMatch(/The audit trail is intact: \d+ records, every hash and link checks out/);
    expect(bot.vault?.server.liveTokens().filter((t) => t.method === 'aws')).toHaveLength(1);
    expect(bot.logLines.join('\n')).not.toMatch(/"level":50/);
    await c.stop();
  }, 120_000);

  it('shows detections in #security: a burst of denials as guest, and a CloudTrail read by a stranger (:event)', async () => {
    const c = await live();
    const read = (from: number) => plain(c.text().slice(from));
    await c.type(':as guest');
    for (let i = 0; i < 5; i++) await c.type('/devenv up small');
    const denials = await c.until(
      /opsbot \(in #security\):\n[\s\S]*?guest|opsbot \(in #security\):\n[\s\S]*?U0GUEST/,
    );
    expect(denials[0]).toMatch(/#security/);
    const from = await c.type(':event GetSecretValue arn:aws:iam::123456789012:user/mallory');
    expect(read(from)).toMatch(/opsbot answered 202/);
    await c.until(/opsbot \(in #security\):\n[\s\S]*?mallory/, from);
    expect(c.bot.logLines.join('\n')).not.toMatch(/"level":50/);
    await c.stop();
  }, 120_000);

  it('names a monitor the simulated Datadog has: Mute works; a bare Warn continues the last alert', async () => {
    const { text, bot } = await session([':alert', ':click Mute 4 hours', ':alert Warn', ':alert Recovered']);
    const id = Number(/Datadog sent Triggered for monitor (\d+)/.exec(text)?.[1]);
    expect(text).not.toContain('no such monitor');
    expect(text).toContain(`:mute: Muted Datadog monitor ${id} for \`host:web-1\``);
    expect(bot.datadog.monitors.some((m) => m.id === id)).toBe(true);
    expect(bot.datadog.downtimes.map((d) => d.relationships.monitor.data?.id)).toEqual([String(id)]);
    expect(text).toContain(`Datadog sent Warn for monitor ${id} `);
    expect(text).toContain(`Datadog sent Recovered for monitor ${id} `);
    expect(text).toMatch(/opsbot \(in a thread in #alerts\):\n {2}:large_orange_circle: \*Warn\*/);
  });

  it('prints what arrives between commands when it arrives, then the prompt again', async () => {
    const c = await live();
    const from = c.text().length;
    // Datadog sends an alert while the user types nothing.
    const body = datadogWebhookBody({ name: 'Queue backed up', tags: ['env:prod'] });
    expect((await c.bot.webhooks.send(body)).status).toBe(202);
    await c.until(/\nopsbot \(in #alerts\):\n {2}:red_circle: \*Triggered\*[\s\S]*\ndev@#dev> $/, from);
    // Below the prompt that was waiting, on a line of its own, and the prompt is drawn again.
    expect(c.text().slice(from - 'dev@#dev> '.length)).toMatch(
      /^dev@#dev> \nopsbot \(in #alerts\):\n[\s\S]*Queue backed up[\s\S]*\ndev@#dev> $/,
    );
    await c.type('/opsbot whoami');
    expect(c.text()).toContain('*You are* @dev');
    await c.stop();
  });

  it('on a terminal prints an arriving message above the prompt and keeps what was typed', async () => {
    const c = await live({ tty: true });
    await c.type('/opsbot who', { enter: false });
    await c.until(/dev@#dev> \/opsbot who$/);
    const from = c.text().length;
    expect(
      (await c.bot.webhooks.send(datadogWebhookBody({ name: 'Disk full', tags: ['env:prod'] }))).status,
    ).toBe(202);
    // The prompt line is cleared, the message printed, then the prompt and what was typed drawn again.
    await c.until(/^opsbot \(in #alerts\):\n[\s\S]*Disk full[\s\S]*\ndev@#dev> \/opsbot who$/, from);
    expect(c.text().slice(from).startsWith('\r\u001b[Kopsbot (in #alerts):')).toBe(true);
    const more = c.text().length;
    await c.type('ami');
    await c.until(/\*You are\* @dev/, more);
    await c.stop();
  });

  it("asks a button's confirmation dialog before pressing it", async () => {
    const { text, bot } = await session(['/devenv up small --name web-1', ':click 2', '', ':click 2', 'y']);
    expect(text).toContain('[2 Stop (terminate)] asks first: Terminate it?\n  web-1 (i-');
    expect(text).toContain(
      '  (Terminate) (Keep it)\nTerminate? y for Terminate, Enter for Keep it> Keep it: [2 Stop (terminate)] was not pressed; nothing was sent.',
    );
    // The first answer sent nothing: one press in all, after "y".
    const stopped = bot.aws.ec2.instances().filter((i) => !['pending', 'running'].includes(i.state));
    expect(stopped).toHaveLength(1);
    expect(text.match(/pressing \[2 Stop \(terminate\)\]/g)).toHaveLength(1);
    expect(text).toMatch(
      /Terminate\? y for Terminate, Enter for Keep it> pressing \[2 Stop \(terminate\)\][\s\S]*terminated `web-1`/,
    );
  });

  it('opens App Home with :home, and its buttons press there', async () => {
    const { text } = await session(['/devenv up small --name web-1', ':home', ':click Extend 2h']);
    expect(text).toContain("dev@#dev> opsbot's App Home (your Home tab):\n  opsbot\n");
    expect(text).toMatch(
      /\*Your dev environments\*\n {2}`web-1` \(i-[0-9a-f]{17}\) · running · 4h left\n {2}\[1 Extend 2h\] \[2 Stop\]/,
    );
    expect(text).toContain('pressing [1 Extend 2h] of the App Home');
    expect(text).toMatch(/opsbot's App Home \(your Home tab\):\n {2}opsbot\n {2}═+\n {2}.*now expires/);
  });

  it('runs in Socket Mode: :alert through the intake function and its router, :event through the events queue', async () => {
    const c = await live({ socketMode: true });
    const { bot } = c;
    const read = (from: number) => plain(c.text().slice(from));
    const counter = async (name: string) =>
      (await bot.metrics.getSingleMetric(name)?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    expect(plain(c.text())).toContain('Socket Mode, no inbound path: Slack over a Socket Mode connection');
    expect(plain(c.text())).toMatch(
      /:event goes on the SQS events queue opsbot-events \(http:\/\/127\.0\.0\.1:\d+\)/,
    );
    expect(bot.socketMode).toBe(true);
    expect(bot.slack.socketConnections).toBeGreaterThan(0);

    let from = await c.type(':help');
    expect(read(from)).toContain(
      "Socket Mode: to the intake function (the bot's intake router routes what it stored",
    );
    expect(read(from)).toContain('Socket Mode: SendMessage on the events queue, which the bot long-polls');
    from = await c.type('/opsbot whoami');
    expect(read(from)).toContain('*You are* @dev');

    from = await c.type(':alert Triggered Disk full on db-1');
    expect(read(from)).toMatch(
      /Datadog sent Triggered for monitor \d+ \(.*Disk full on db-1\) to the intake function: intake answered 202\n/,
    );
    await c.until(/opsbot \(in #alerts\):\n {2}:red_circle: \*Triggered\* · P2 · Disk full on db-1/, from);
    const root = bot.slack
      .messages('C0ALERTS')
      .find((m) => !m.threadTs && m.text?.includes('Disk full on db-1'));
    expect(root).toBeDefined();
    // Through the intake topic and the bot's intake router, not the bot's own webhook.
    expect(await counter('opsbot_intake_alerts_routed_total')).toBe(1);
    expect(await counter('opsbot_alerts_received_total')).toBe(0);
    from = await c.type(':alert Recovered');
    expect(read(from)).toMatch(/to the intake function: intake answered 202/);
    await c.until(/opsbot \(updated a message in #alerts\)/, from);
    from = await c.type(':storm 3');
    expect(read(from)).toContain('Datadog sent 3 alerts at once; the intake function accepted 3.');

    from = await c.type(':event GetSecretValue arn:aws:iam::123456789012:user/mallory');
    expect(read(from)).toMatch(
      /EventBridge put GetSecretValue on opsbot\/slack by arn:aws:iam::123456789012:user\/mallory on the events queue opsbot-events \(message [0-9a-f]{8}\); the bot long-polls it/,
    );
    await c.until(/opsbot \(in #security\):\n[\s\S]*?mallory/, from);
    // Taken and deleted: nothing left on the queue, nothing dead-lettered.
    const sqs = bot.sqs;
    expect(sqs).toBeDefined();
    await eventually(
      () => sqs?.server.messages(sqs.queueUrl).length === 0,
      'the event to be deleted from the queue',
    );
    expect(sqs?.server.messages(sqs.deadLetterUrl)).toEqual([]);
    expect(sqs?.server.calls.DeleteMessage).toBe(1);

    const logs = bot.logLines.join('\n');
    // The intake function's own lines: its audit records of the two alerts, on the bot's trail.
    expect(logs.match(/"component":"intake","audit":true,[^\n]*"action":"datadog:alert"/g)).toHaveLength(5);
    expect(logs).not.toMatch(/"level":50/);
    assertNoCanary({ logs }, bot.secrets());
    await c.stop();
  }, 120_000);

  it('reads --socket-mode from its arguments and refuses any other', async () => {
    expect(consoleArgs([])).toEqual({ socketMode: false });
    expect(consoleArgs(['--socket-mode'])).toEqual({ socketMode: true });
    expect(consoleArgs(['--socket'])).toEqual({
      problem: expect.stringContaining('--socket: the console takes --socket-mode'),
    });
    const { child, output } = spawnConsole([], ['--http']);
    child.stdin.end();
    expect(await exitOf(child)).toBe(2);
    expect(output().stdout).toBe('');
    expect(output().stderr).toMatch(/^--http: the console takes --socket-mode/);
  });

  it('stops the bot and removes its temp dir when its input closes', async () => {
    const { bot, text } = await session(['/opsbot whoami']);
    expect(text).toContain(`state is SQLite in ${bot.dir} (removed when you leave)`);
    expect(existsSync(bot.dir)).toBe(false);
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`stops the bot and removes its temp dir on ${signal}`, async () => {
      const { child, output } = spawnConsole();
      const dir = await poll(
        () => /state is SQLite in (\S+) \(removed/.exec(output().stdout)?.[1],
        `the banner (stderr: ${output().stderr})`,
      );
      await poll(() => (output().stdout.includes('dev@#dev> ') ? true : undefined), 'the prompt');
      expect(existsSync(dir)).toBe(true);
      const exited = exitOf(child);
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(existsSync(dir)).toBe(false);
      expect(output().stdout).toContain('bye');
      expect(output().stderr).toBe('');
    });
  }

  it('on an old Node.js prints the one line and exits 2 before anything imports node:sqlite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-old-node-'));
    try {
      const preload = join(dir, 'old-node.mjs');
      writeFileSync(
        preload,
        [
          "import { registerHooks } from 'node:module';",
          "Object.defineProperty(process.versions, 'node', { value: '20.11.1' });",
          'registerHooks({',
          '  resolve(specifier, context, next) {',
          "    if (specifier === 'node:sqlite') process.stderr.write('node:sqlite was imported\\n');",
          '    return next(specifier, context);',
          '  },',
          '});',
        ].join('\n'),
      );
      const { child, output } = spawnConsole(['--import', preload]);
      child.stdin.end();
      expect(await exitOf(child)).toBe(2);
      expect(output()).toEqual({ stdout: '', stderr: `${nodeVersionProblem('20.11.1')}\n` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
