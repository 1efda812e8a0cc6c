import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { COMMANDS } from '../../commands/index.js';
import { parseDuration } from '../config/parsers.js';
import {
  type AlertSpec,
  type DatadogWebhookBody,
  datadogWebhookBody,
} from '../sandbox/datadog-webhook-sender.js';
import { type SandboxBot, startSandboxBot } from '../sandbox/sandbox-bot.js';
import type { Delivery } from '../sandbox/slack.js';
import { parseAlertArgs } from './alert-args.js';
import { cloudTrailEvent, parseEventArgs, queueAwsEvent, sendAwsEvent } from './aws-event.js';
import { auditSummary, describeSecrets, status } from './bot-state.js';
import { ChannelMessages } from './channel-messages.js';
import { asSlackSends, unknownMentionsNote } from './client-text.js';
import { type Shown, SlackFeed } from './feed.js';
import { FormFiller } from './form-filler.js';
import { readForm, renderForm, submissionValues } from './forms.js';
import { banner, helpText } from './help.js';
import { sendToIntake } from './intake-alert.js';
import { formatLogs } from './logs.js';
import { type Names, type RenderedButton, renderMessage } from './render-blocks.js';
import { rotate } from './rotate.js';
import { type KnownCommand, unknownCommand } from './slash-commands.js';
import { Terminal } from './terminal.js';

/** What the console says under a form it opened (README's transcript shows it). */
export const FORM_HINT =
  'Fill it in one field at a time: Enter leaves an optional field empty or keeps the value shown, :clear empties it, :cancel closes the form.';

/**
 * `npm run console`: the whole bot in a terminal against simulated Slack and Secrets Manager, no
 * account needed. Slash commands go through the simulated Slack as the current user in the current
 * channel, written as a Slack client writes them; replies are rendered from Block Kit, buttons are
 * numbered per reply, forms are filled one input at a time and submitted through Slack.
 */
export interface ConsoleOptions {
  /** Aborting stops the console as `:quit` does (the entry aborts on SIGINT and SIGTERM). */
  signal?: AbortSignal;
  /** Called once the bot is up: tests read its state, the entry learns its temp dir. */
  onStart?: (bot: SandboxBot) => void;
  /** Ctrl-C on a terminal (readline reads it as a key there): the entry signals itself; else `:quit`. */
  onInterrupt?: () => void;
  /** Where the bot reads its secrets: the simulated Secrets Manager (default) or the simulated Vault. */
  secretSource?: 'aws' | 'vault';
  /**
   * `--socket-mode`: no inbound path, as README's "Datadog alerts without a public endpoint" deploys
   * it. Slack over Socket Mode, `:alert` and `:storm` through the intake function, `:event` on the
   * events queue (a simulated SQS with its dead-letter queue).
   */
  socketMode?: boolean;
}

const REPLY_TIMEOUT_MS = 5_000;
/** In Socket Mode: how often the bot reads the intake function's work signal. */
export const INTAKE_WATCH_MS = 1_000;
/** The message shortcut `:shortcut` uses (Slack's "More actions" menu on a message). */
const SHORTCUT = { callbackId: 'jira:create', name: 'Create Jira issue' } as const;
/** Leave the console, even from a form. */
const QUIT = [':quit', ':q', ':exit'];
/** How often the console looks for what arrived while its prompt waits. */
const WATCH_MS = 100;

export async function runConsole(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  options: ConsoleOptions = {},
): Promise<void> {
  const bot = await startSandboxBot({
    // The console shows detections in #security (try a burst of denials as guest, or :event).
    security: {},
    ...(options.secretSource ? { secretSource: options.secretSource } : {}),
    ...(options.socketMode
      ? {
          socketMode: true,
          eventsQueue: true,
          // The intake's signal is read every second here (up to every 15 s in production, while
          // idle), so that an alert shows up while :alert waits for it.
          alerts: { watchMaxMs: INTAKE_WATCH_MS },
        }
      : {}),
  });
  // On a terminal readline owns the typed line, so that what arrives meanwhile can be printed above it.
  const tty = Boolean((input as { isTTY?: boolean }).isTTY && (output as { isTTY?: boolean }).isTTY);
  const rl = createInterface({
    input,
    ...(tty ? { output, terminal: true } : { terminal: false }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (tty) rl.on('SIGINT', () => (options.onInterrupt ? options.onInterrupt() : rl.close()));
  let session: Session | undefined;
  const terminal = new Terminal(output, () => session?.prompt() ?? '', tty ? rl : undefined);
  const say = (text: string) => terminal.say(text);
  const watch = setInterval(() => {
    if (terminal.waiting) session?.arrived();
  }, WATCH_MS);
  try {
    options.onStart?.(bot);
    session = new Session(bot, say, options.signal);
    say(banner(bot));
    terminal.prompt();
    for await (const line of rl) {
      terminal.busy();
      if (!(await session.handle(line))) break;
      terminal.prompt();
    }
  } finally {
    clearInterval(watch);
    terminal.busy();
    rl.close();
    if (options.signal?.aborted) say('\nstopping the bot and removing its temp dir…');
    try {
      await bot.stop();
    } finally {
      rmSync(bot.dir, { recursive: true, force: true });
    }
    say('\nbye');
  }
}

/** Buttons shown together: a reply's, a channel message's (`message`) or App Home's (`home`, its view id). */
interface ShownButtons {
  label: string;
  /** An ephemeral reply's buttons are only its user's to press. */
  onlyFor?: string;
  channel: string;
  buttons: RenderedButton[];
  message?: { ts: string; content: { text?: string; blocks?: unknown[] } };
  home?: string;
}

/** One console user's state: who and where they are, the open form, the latest buttons. */
class Session {
  #user = 'U0DEV';
  #channel = 'C0DEV';
  #form: FormFiller | undefined;
  /** A question the next line answers (a button's confirmation dialog). */
  #question: { prompt: string; answer: (line: string) => Promise<void> } | undefined;
  /** The latest buttons shown. */
  /** The latest replies with buttons (a few): `:click Approve` finds the newest one with that button. */
  readonly #shownButtons: ShownButtons[] = [];
  /** Channel messages shown or posted here: what :shortcut is used on. */
  readonly #messages = new ChannelMessages();
  /** The last alert sent with :alert, so that `:alert Recovered` continues its cycle. */
  #lastAlert: AlertSpec | undefined;
  readonly #feed: SlackFeed;
  readonly #names: Names;
  readonly #commands: KnownCommand[] = COMMANDS.map((c) => ({ name: c.name, description: c.description }));

  constructor(
    readonly bot: SandboxBot,
    readonly say: (text: string) => void,
    readonly signal?: AbortSignal,
  ) {
    this.#feed = new SlackFeed(bot.slack);
    const ws = bot.slack.workspace;
    const byId = <T>(map: Map<string, T>, name: (v: T) => string) =>
      Object.fromEntries([...map].map(([id, v]) => [id, name(v)]));
    this.#names = {
      users: byId(ws.users, (u) => u.name),
      channels: byId(ws.channels, (c) => c.name),
      usergroups: byId(ws.usergroups, (g) => g.handle),
    };
  }

  prompt(): string {
    if (this.#question) return this.#question.prompt;
    if (this.#form) return this.#form.prompt();
    return `${this.#names.users?.[this.#user] ?? this.#user}@#${this.#channelName(this.#channel)}> `;
  }

  /** Handles one typed line; false once the user wants to leave. */
  async handle(raw: string): Promise<boolean> {
    const line = raw.trim();
    if (QUIT.includes(line)) return false;
    const question = this.#question;
    if (question) {
      this.#question = undefined;
      await question.answer(line);
      return true;
    }
    if (this.#form) {
      await this.#fill(raw);
      return true;
    }
    const [word = '', ...rest] = line.split(/\s+/);
    const arg = rest.join(' ');
    if (line === '') return true;
    if (line.startsWith('/')) await this.#slash(word, line.slice(word.length).trim());
    else if (word === ':help') this.say(helpText(this.bot));
    else if (word === ':click') await this.#click(arg);
    else if (word === ':say') this.#sayInChannel(raw.trim().slice(word.length).trim());
    else if (word === ':shortcut') await this.#shortcut(arg);
    else if (word === ':as') this.#as(arg);
    else if (word === ':in') this.#in(arg);
    else if (word === ':status') this.say(await status(this.bot));
    else if (word === ':logs') this.say(formatLogs(this.bot.logLines, arg));
    else if (word === ':secrets') this.say(describeSecrets(this.bot));
    else if (word === ':audit') this.say(await auditSummary(this.bot));
    else if (word === ':rotate') await rotate(this.bot, arg, this.say);
    else if (word === ':home') await this.#home();
    else if (word === ':alert') await this.#alert(arg);
    else if (word === ':storm') await this.#storm(arg);
    else if (word === ':event') await this.#event(arg);
    else if (word === ':time') await this.#time(arg);
    else if (word === ':cancel' || word === ':submit') this.say('no form is open.');
    else this.say(`I don't know "${line.slice(0, 60)}". Type :help for the list.`);
    return true;
  }

  async #slash(command: string, text: string): Promise<void> {
    const invalid = unknownCommand(command, this.#commands);
    if (invalid) {
      this.say(`Slack (only you can see this):\n${indent(invalid)}`);
      return;
    }
    const note = unknownMentionsNote(text, this.#names);
    if (note) this.say(note);
    const delivery = await this.bot.slack.sendSlashCommand({
      command,
      text: asSlackSends(text, this.#names),
      userId: this.#user,
      channelId: this.#channel,
    });
    await this.#answers(`${command}${text ? ` ${text}` : ''}`.slice(0, 60), delivery);
  }

  /** `:alert [transition] [title]`: Datadog sends a webhook; a later transition continues the last cycle. */
  async #alert(arg: string): Promise<void> {
    const parsed = parseAlertArgs(arg, this.#lastAlert);
    if ('problem' in parsed) {
      this.say(parsed.problem);
      return;
    }
    if (parsed.fresh) {
      // A monitor the simulated Datadog has, so that the root's Mute buttons and /dd monitor work.
      const { name = '', tags = [], priority } = parsed.spec;
      parsed.spec.monitorId = this.bot.datadog.addMonitor({ name, tags, priority: priority ?? null }).id;
    }
    this.#lastAlert = parsed.spec;
    const body = datadogWebhookBody(parsed.spec);
    const sent = `Datadog sent ${body.transition} for monitor ${body.monitorId} (${body.title.slice(0, 80)})`;
    if (this.bot.socketMode) {
      // No inbound path: Datadog's webhook names the intake function's URL, which stores the
      // alert for the bot's intake router to route (its signal is read every second here).
      const result = await sendToIntake(this.bot, body);
      this.say(`${sent} to the intake function: intake answered ${result.status}${refusal(result)}`);
    } else {
      const result = await this.bot.webhooks.send(body);
      this.say(`${sent}: opsbot answered ${result.status}`);
    }
    const shown = await this.#feed.wait(this.#user, {
      timeoutMs: this.bot.socketMode ? 3_000 + 2 * INTAKE_WATCH_MS : 3_000,
      quietMs: 300,
    });
    for (const item of shown) this.#show(item, `the alert ${body.monitorId}`);
  }

  /** `:event GetSecretValue [principal-arn] [secret]`: EventBridge sends a CloudTrail event about a secret. */
  async #event(arg: string): Promise<void> {
    const parsed = parseEventArgs(arg);
    if ('problem' in parsed) {
      this.say(parsed.problem);
      return;
    }
    const event = cloudTrailEvent({ ...parsed, at: new Date(this.bot.clock.now()) });
    const what = `${parsed.eventName} on ${parsed.secret} by ${parsed.principal}`;
    if (this.bot.socketMode) {
      // No inbound path: EventBridge's rule puts the event on the queue the bot long-polls.
      const queued = await queueAwsEvent(this.bot, event);
      if ('problem' in queued) {
        this.say(queued.problem);
        return;
      }
      this.say(
        `EventBridge put ${what} on the events queue ${queued.queue} (message ${queued.messageId.slice(0, 8)}); the bot long-polls it`,
      );
    } else {
      const sent = await sendAwsEvent(this.bot, event);
      if ('problem' in sent) {
        this.say(sent.problem);
        return;
      }
      this.say(`EventBridge sent ${what}: opsbot answered ${sent.status}`);
    }
    const shown = await this.#feed.wait(this.#user, { timeoutMs: 3_000, quietMs: 300 });
    for (const item of shown) this.#show(item, `the event ${parsed.eventName}`);
  }

  /** `:time +25m`: moves the sandbox's clock forward (expiry warnings, the reaper). */
  async #time(arg: string): Promise<void> {
    const text = arg.trim().replace(/^\+/, '');
    const parsed = text ? parseDuration(text, { minMs: 1_000, maxMs: 30 * 86_400_000 }) : undefined;
    if (!parsed?.ok) {
      const ahead = this.bot.clock.offsetMs;
      this.say(
        `usage: :time +25m (any of d, h, m, s; forward only). The sandbox is ${ahead ? `${Math.round(ahead / 60_000)} minutes ahead of real time` : 'on real time'}: ${new Date(this.bot.clock.now()).toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
      );
      return;
    }
    this.bot.clock.advance(parsed.value);
    this.say(
      `moved the clock forward ${text}: it is now ${new Date(this.bot.clock.now()).toISOString().slice(0, 16).replace('T', ' ')} UTC for the bot and its simulated services.`,
    );
    const shown = await this.#feed.wait(this.#user, { timeoutMs: 3_000, quietMs: 500 });
    for (const item of shown) this.#show(item, ':time');
  }

  /** `:storm N`: N alerts at once, to see the digest. */
  async #storm(arg: string): Promise<void> {
    const count = Number(arg || '20');
    if (!Number.isInteger(count) || count < 1 || count > 500) {
      this.say('usage: :storm N (1 to 500 alerts at once)');
      return;
    }
    // Monitors the simulated Datadog has (as the storm names them), so that Mute on its root works.
    const first = Math.max(...this.bot.datadog.monitors.map((m) => m.id)) + 1;
    for (let i = 0; i < count; i++)
      this.bot.datadog.addMonitor({
        id: first + i,
        name: `High CPU on web-${i + 1}`,
        tags: ['env:prod', 'monitor'],
      });
    let accepted: number;
    if (this.bot.socketMode) {
      const at = this.bot.clock.now();
      const statuses: number[] = [];
      for (let i = 0; i < count; i++) {
        const body: DatadogWebhookBody = datadogWebhookBody({
          monitorId: first + i,
          name: `High CPU on web-${i + 1}`,
          scope: `host:web-${i + 1}`,
          tags: ['env:prod', 'monitor'],
          at,
        });
        statuses.push((await sendToIntake(this.bot, body)).status);
      }
      accepted = statuses.filter((s) => s === 202).length;
    } else {
      const { results } = await this.bot.webhooks.storm({ count, concurrency: 16, firstMonitorId: first });
      accepted = results.filter((r) => r.status === 202).length;
    }
    const by = this.bot.socketMode ? 'the intake function' : 'opsbot';
    this.say(
      `Datadog sent ${count} alerts at once; ${by} accepted ${accepted}. Slack allows about one message per second per channel, so watch the digest:`,
    );
    const shown = await this.#feed.wait(this.#user, { timeoutMs: 5_000, quietMs: 1_500 });
    for (const item of shown.slice(-6)) this.#show(item, 'the storm');
    if (shown.length > 6)
      this.say(`(${shown.length - 6} earlier updates not shown; /dd alerts counts them all)`);
  }

  async #click(arg: string): Promise<void> {
    const visible = this.#shownButtons.filter((b) => !b.onlyFor || b.onlyFor === this.#user);
    const wantedName = arg.trim().toLowerCase();
    const named = /^\d+$/.test(wantedName)
      ? undefined
      : visible.findLast((b) => b.buttons.some((button) => button.text.toLowerCase() === wantedName));
    // By number: the latest reply with buttons, as before; by name: the newest one you can see.
    const latest = named ?? this.#shownButtons.at(-1);
    if (!latest) {
      this.say('no buttons yet: a reply with buttons shows them as [1 …], and :click 1 presses one.');
      return;
    }
    const wanted = arg.trim().toLowerCase();
    const button =
      latest.buttons.find((b) => String(b.n) === wanted) ??
      (wanted ? latest.buttons.find((b) => b.text.toLowerCase() === wanted) : undefined);
    if (!button) {
      const list = latest.buttons.map((b) => `[${b.n} ${b.text}]`).join(' ');
      const count = latest.buttons.length === 1 ? 'one button' : `${latest.buttons.length} buttons`;
      this.say(`no button ${arg.slice(0, 10)}: the reply to ${latest.label} has ${count}, ${list}`);
      return;
    }
    const name = `[${button.n} ${button.text}]`;
    const dialog = button.confirm;
    if (dialog) {
      // Slack shows the button's confirmation dialog first; only its confirm button sends the press.
      this.say(
        `${name} asks first: ${dialog.title}\n${dialog.text ? `${indent(dialog.text)}\n` : ''}  (${dialog.confirm}) (${dialog.deny})`,
      );
      this.#question = {
        prompt: `${dialog.confirm}? y for ${dialog.confirm}, Enter for ${dialog.deny}> `,
        answer: async (typed) => {
          if (/^y(es)?$/i.test(typed.trim())) await this.#press(latest, button, name);
          else this.say(`${dialog.deny}: ${name} was not pressed; nothing was sent.`);
        },
      };
      return;
    }
    await this.#press(latest, button, name);
  }

  async #press(latest: ShownButtons, button: RenderedButton, name: string): Promise<void> {
    this.say(`pressing ${name} of the ${latest.home ? '' : 'reply to '}${latest.label}`);
    const delivery = await this.bot.slack.sendBlockAction({
      userId: this.#user,
      channelId: latest.channel,
      actionId: button.actionId,
      ...(button.blockId ? { blockId: button.blockId } : {}),
      // On a channel message Slack names the message (its ts and content); on an ephemeral it cannot.
      ...(latest.message ? { messageTs: latest.message.ts, message: latest.message.content } : {}),
      // In App Home: the view, and neither channel nor message.
      ...(latest.home ? { homeViewId: latest.home } : {}),
      ...(button.option && button.value
        ? { selectedOption: { value: button.value, text: button.text } }
        : button.value
          ? { value: button.value }
          : {}),
    });
    await this.#answers(`the button ${name}`, delivery);
  }

  async #fill(line: string): Promise<void> {
    const filler = this.#form as FormFiller;
    const step = filler.answer(line);
    for (const said of step.say) this.say(said);
    if (step.action === 'cancel') {
      this.#form = undefined;
      this.say(`closed ${filler.form.title}; nothing was sent`);
    } else if (step.action === 'submit') await this.#submit(filler);
  }

  /** Sends the form as Slack does (a signed view_submission), then shows what the app answered. */
  async #submit(filler: FormFiller): Promise<void> {
    const { form } = filler;
    this.#form = undefined;
    this.say(`submitted ${form.title} (${form.submit})`);
    const delivery = await this.bot.slack.sendViewSubmission({
      userId: this.#user,
      viewId: form.viewId,
      callbackId: form.callbackId,
      privateMetadata: form.privateMetadata,
      values: submissionValues(form, filler.answers),
    });
    const ack = parseObject(delivery.body);
    if (delivery.status === 200 && ack?.response_action === 'errors' && parseObject(ack.errors)) {
      this.#form = filler;
      const said = filler.refuse(parseObject(ack.errors) ?? {});
      this.say(
        said.length
          ? said.join('\n')
          : `opsbot refused the form: ${JSON.stringify(ack.errors).slice(0, 200)}`,
      );
      return;
    }
    if (delivery.status === 200 && (ack?.response_action === 'update' || ack?.response_action === 'push')) {
      this.#open({ id: form.viewId, view: ack.view });
      return;
    }
    await this.#answers(`the form ${form.title}`, delivery);
  }

  /** Shows everything Slack shows this user after `label` was delivered, or says nothing came. */
  async #answers(label: string, delivery: Delivery): Promise<void> {
    if (delivery.status !== 200) {
      this.say(`Slack got HTTP ${delivery.status} from the bot: ${delivery.body.slice(0, 200)}`);
      return;
    }
    const shown = await this.#feed.wait(this.#user, {
      timeoutMs: REPLY_TIMEOUT_MS,
      ...(this.signal ? { signal: this.signal } : {}),
    });
    if (shown.length === 0 && !this.signal?.aborted)
      this.say(`(no reply to ${label} within ${REPLY_TIMEOUT_MS / 1_000} s; \`:logs warn\` may say why)`);
    for (const item of shown) this.#show(item, label);
    // A reply that says it will update itself (a dev environment starting): wait for the update.
    let last = shown.at(-1);
    for (let round = 0; last && promisesUpdate(last) && round < 10 && !this.signal?.aborted; round++) {
      const more = await this.#feed.wait(this.#user, {
        timeoutMs: 15_000,
        ...(this.signal ? { signal: this.signal } : {}),
      });
      for (const item of more) this.#show(item, label);
      last = more.at(-1);
    }
  }

  /** Shows what reached the user while the prompt waited (alerts, DMs, late replies). */
  arrived(): void {
    for (const item of this.#feed.take(this.#user)) {
      const where =
        item.kind === 'message'
          ? item.channel.startsWith('D')
            ? 'the message in your DM'
            : `the message in #${this.#channelName(item.channel)}`
          : item.kind === 'home'
            ? 'App Home'
            : 'a reply';
      this.#show(item, where);
    }
  }

  /** `:home`: opens the App Home tab as Slack does (app_home_opened), then shows what opsbot published. */
  async #home(): Promise<void> {
    const channel = this.bot.slack.workspace.dmChannel(this.#user)?.id ?? `D${this.#user}`;
    const result = await this.bot.slack.sendEvent({
      type: 'app_home_opened',
      user: this.#user,
      channel,
      tab: 'home',
    });
    if (result.status !== 200) {
      this.say(`Slack got HTTP ${result.status} from the bot: ${result.body.slice(0, 200)}`);
      return;
    }
    const shown = await this.#feed.wait(this.#user, {
      timeoutMs: REPLY_TIMEOUT_MS,
      ...(this.signal ? { signal: this.signal } : {}),
    });
    if (!shown.some((item) => item.kind === 'home') && !this.signal?.aborted)
      this.say(
        `(opsbot published no App Home within ${REPLY_TIMEOUT_MS / 1_000} s; \`:logs warn\` may say why)`,
      );
    for (const item of shown) this.#show(item, 'App Home');
  }

  #show(item: Shown, label: string): void {
    if (item.kind === 'view') {
      this.#open(item.view);
      return;
    }
    if (item.kind === 'home') {
      const rendered = renderMessage(parseObject(item.view.view) ?? {}, { names: this.#names });
      this.say(`opsbot's App Home (your Home tab):\n${indent(rendered.text)}`);
      if (rendered.buttons.length)
        this.#remember({
          label: 'App Home',
          channel: '',
          buttons: rendered.buttons,
          home: item.view.id,
          onlyFor: this.#user,
        });
      return;
    }
    const rendered = renderMessage(item.content, { names: this.#names });
    const where = item.channel.startsWith('D')
      ? 'your DM with opsbot'
      : `#${this.#channelName(item.channel)}`;
    if (item.kind === 'ephemeral') {
      const header = `${item.updated ? 'updated its reply, ' : ''}only you can see this${item.channel === this.#channel ? '' : `, in ${where}`}`;
      this.say(`opsbot (${header}):\n${indent(rendered.text)}`);
      if (rendered.buttons.length)
        this.#remember({ label, channel: item.channel, buttons: rendered.buttons, onlyFor: this.#user });
      return;
    }
    const bot = this.bot.slack.workspace.identity.botUserId;
    const author = item.from === bot ? 'opsbot' : (this.#names.users?.[item.from] ?? item.from);
    const header = `${item.updated ? 'updated a message ' : ''}in ${item.threadTs ? 'a thread in ' : ''}${where}`;
    this.say(`${author} (${header}):\n${indent(rendered.text)}`);
    this.#messages.remember(item.channel, {
      ts: item.ts,
      from: item.from,
      ...(item.threadTs ? { threadTs: item.threadTs } : {}),
      text: rendered.text,
    });
    if (rendered.buttons.length)
      this.#remember({
        label,
        channel: item.channel,
        buttons: rendered.buttons,
        message: {
          ts: item.ts,
          content: { ...item.content, ...(item.threadTs ? { threadTs: item.threadTs } : {}) },
        },
      });
  }

  #remember(shown: ShownButtons): void {
    this.#shownButtons.push(shown);
    if (this.#shownButtons.length > 10) this.#shownButtons.shift();
  }

  /** `:say <text>`: the current user's own message in the current channel (for :shortcut, and seen by the bot's watchers). */
  #sayInChannel(text: string): void {
    if (!text) {
      this.say('usage: :say <text> posts a message as you in this channel; :shortcut then uses it.');
      return;
    }
    const note = unknownMentionsNote(text, this.#names);
    if (note) this.say(note);
    const message = this.bot.slack.postAsUser({
      userId: this.#user,
      channelId: this.#channel,
      text: asSlackSends(text, this.#names).slice(0, 4_000),
    });
    this.#feed.skip(message);
    const rendered = renderMessage({ text: message.text }, { names: this.#names });
    this.say(`${this.#names.users?.[this.#user] ?? this.#user} (in #${this.#channelName(this.#channel)}):`);
    this.say(indent(rendered.text));
    this.#messages.remember(this.#channel, { ts: message.ts, from: this.#user, text: rendered.text });
    // Slack tells the bot (message.channels): its watchers, the leak watch among them, see it too.
    this.bot.slack.redeliverMessage(this.#channel, message).catch((error: unknown) => {
      this.say(`(the message event did not reach the bot: ${String(error).slice(0, 200)})`);
    });
  }

  /** `:shortcut [n]`: the message shortcut "Create Jira issue" on the latest (or nth latest) message here. */
  async #shortcut(arg: string): Promise<void> {
    const n = arg.trim() === '' ? 1 : Number(arg.trim());
    const here = `#${this.#channelName(this.#channel)}`;
    const known = this.#messages.count(this.#channel);
    if (!Number.isInteger(n) || n < 1) {
      this.say(
        `usage: :shortcut [n] uses "${SHORTCUT.name}" on the latest message in ${here} (n: the nth latest).`,
      );
      return;
    }
    const message = this.#messages.latest(this.#channel, n);
    if (!message) {
      this.say(
        known === 0
          ? `no message in ${here} yet: post one with \`:say the login page is slow\`, then :shortcut uses "${SHORTCUT.name}" on it.`
          : `no message ${n} in ${here}: the console knows ${known} here (1 is the latest).`,
      );
      return;
    }
    if (!COMMANDS.some((c) => c.shortcuts?.[SHORTCUT.callbackId])) {
      this.say(`opsbot has no message shortcut "${SHORTCUT.name}" (${SHORTCUT.callbackId}).`);
      return;
    }
    const who = message.from === this.#user ? 'your message' : 'the message';
    const label = `"${SHORTCUT.name}" on ${who} "${message.preview}"`;
    this.say(`using ${label} in ${here}`);
    const delivery = await this.bot.slack.sendMessageShortcut({
      userId: this.#user,
      channelId: this.#channel,
      callbackId: SHORTCUT.callbackId,
      messageTs: message.ts,
    });
    await this.#answers(`the shortcut ${SHORTCUT.name}`, delivery);
  }

  #open(view: { id: string; view: unknown }): void {
    const filler = new FormFiller(readForm(view, { users: this.#names.users ?? {} }));
    this.#form = filler;
    this.say(`opsbot opened a form:\n${indent(renderForm(filler.form))}`);
    this.say(filler.form.fields.length ? FORM_HINT : (filler.summary().at(-1) ?? ''));
  }

  #as(arg: string): void {
    const id = this.#find(arg, this.#names.users, '@');
    if (id) {
      this.#user = id;
      this.say(`now acting as ${this.#names.users?.[id] ?? id} (${id})`);
    } else
      this.say(
        `unknown user ${arg.slice(0, 20)}; choose from ${Object.entries(this.#names.users ?? {})
          .map(([i, n]) => `${i} (${n})`)
          .join(', ')}`,
      );
  }

  #in(arg: string): void {
    const id = this.#find(arg, this.#names.channels, '#');
    if (id) {
      this.#channel = id;
      this.say(`now in #${this.#channelName(id)} (${id})`);
    } else
      this.say(
        `unknown channel ${arg.slice(0, 20)}; choose from ${Object.entries(this.#names.channels ?? {})
          .map(([i, n]) => `${i} (#${n})`)
          .join(', ')}`,
      );
  }

  #find(arg: string, names: Record<string, string> = {}, sigil: string): string | undefined {
    const typed = arg.trim();
    const wanted = typed.startsWith(sigil) ? typed.slice(1) : typed;
    if (wanted in names) return wanted;
    return Object.entries(names).find(([, name]) => name === wanted.toLowerCase())?.[0];
  }

  #channelName(id: string): string {
    return this.#names.channels?.[id] ?? id;
  }
}

/** What the intake said when it did not take the alert (its JSON error: never a secret). */
function refusal(result: { status: number; body: string }): string {
  return result.status === 202 ? '' : ` ${result.body}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function parseObject(value: unknown): Record<string, unknown> | undefined {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** Does this message say it will be replaced by an update (`This message updates when…`)? */
function promisesUpdate(item: Shown): boolean {
  return 'content' in item && /This message updates when/.test(item.content.text ?? '');
}
