import type { SimulatedSlack } from '../sandbox/slack.js';
import type { SimView } from '../sandbox/slack-workspace.js';

/** Something opsbot put in front of the console's user: a channel message, an ephemeral, a modal. */
export type Shown =
  | {
      kind: 'message';
      channel: string;
      /** The message's ts: what a button press or a message shortcut on it names. */
      ts: string;
      /** Who posted it (the bot's user id, or a person's). */
      from: string;
      /** The thread it replies in, when it is a reply. */
      threadTs?: string;
      content: { text?: string; blocks?: unknown[] };
      /** A message shown before that has since been edited. */
      updated?: boolean;
    }
  | {
      kind: 'ephemeral';
      channel: string;
      content: { text?: string; blocks?: unknown[] };
      /** It replaces a reply shown before (`replace_original` on the same response_url) with new content. */
      updated?: boolean;
    }
  | { kind: 'view'; view: SimView }
  /** The user's App Home, published (views.publish) when they opened it or pressed a button there. */
  | { kind: 'home'; view: SimView };

/**
 * Watches the simulated Slack for what reaches the console's user, wherever it came from: replies
 * through a response_url, `chat.postMessage` in any channel, `chat.postEphemeral` to them, and
 * modals `views.open` opened for them, and their App Home as published. Each thing is returned once;
 * a reply that replaces itself (`replace_original`) with the same content is not returned again.
 */
export class SlackFeed {
  readonly #seen = new WeakSet<object>();
  /** The edit last shown of each message (a root that an alert or a button changed shows again). */
  readonly #edits = new WeakMap<object, string>();
  /** The content last posted to each response_url (by id), to tell a real change from a repeat. */
  readonly #replies = new Map<string, string>();

  constructor(readonly slack: SimulatedSlack) {
    this.#fresh();
  }

  /** Never returns `item` (a message the console itself posted and has already shown). */
  skip(item: object): void {
    this.#seen.add(item);
  }

  /** What appeared for `user` since the last call (everything new is marked seen, whoever it was for). */
  take(user: string): Shown[] {
    return this.#fresh()
      .filter((f) => (f.user ?? user) === user)
      .map((f) => f.shown);
  }

  /**
   * Waits until something appears for `user`, then until nothing more has for `quietMs`; returns
   * it all, or nothing after `timeoutMs` (or once `signal` aborts).
   */
  async wait(
    user: string,
    options: { timeoutMs?: number; quietMs?: number; signal?: AbortSignal } = {},
  ): Promise<Shown[]> {
    const end = Date.now() + (options.timeoutMs ?? 5_000);
    const quietMs = options.quietMs ?? 100;
    const shown: Shown[] = [];
    let last = 0;
    for (;;) {
      const fresh = this.take(user);
      if (fresh.length) {
        shown.push(...fresh);
        last = Date.now();
      }
      const now = Date.now();
      if ((shown.length && now - last >= quietMs) || now > end || options.signal?.aborted) return shown;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Everything not seen before, with the user it is for (a channel message is for everyone). */
  #fresh(): Array<{ shown: Shown; user?: string }> {
    const out: Array<{ shown: Shown; user?: string }> = [];
    const unseen = <T extends object>(item: T) => {
      if (this.#seen.has(item)) return false;
      this.#seen.add(item);
      return true;
    };
    const edited = (m: { editedTs?: string }) => {
      if (!m.editedTs || this.#edits.get(m) === m.editedTs) return false;
      this.#edits.set(m, m.editedTs);
      return true;
    };
    for (const channel of this.slack.workspace.channels.keys()) {
      for (const m of this.slack.messages(channel)) {
        const fresh = unseen(m);
        const changed = edited(m);
        if (fresh || changed)
          out.push({
            shown: {
              kind: 'message',
              channel,
              ts: m.ts,
              from: m.user,
              ...(m.threadTs && m.threadTs !== m.ts ? { threadTs: m.threadTs } : {}),
              content: content(m),
              ...(fresh ? {} : { updated: true }),
            },
          });
      }
      for (const e of this.slack.ephemerals(channel).filter(unseen)) {
        const shown = content(e);
        const replaced = e.responseId === undefined ? undefined : this.#replies.get(e.responseId);
        if (e.responseId !== undefined) {
          this.#replies.set(e.responseId, JSON.stringify(shown));
          if (this.#replies.size > 1_000) this.#replies.delete(this.#replies.keys().next().value as string);
        }
        if (e.replaceOriginal && replaced === JSON.stringify(shown)) continue;
        out.push({
          shown: {
            kind: 'ephemeral',
            channel,
            content: shown,
            ...(e.replaceOriginal && replaced !== undefined ? { updated: true } : {}),
          },
          user: e.user,
        });
      }
    }
    for (const view of this.slack.views().filter(unseen)) {
      if (view.kind === 'modal') out.push({ shown: { kind: 'view', view }, user: view.userId });
      else out.push({ shown: { kind: 'home', view }, user: view.userId });
    }
    return out;
  }
}

function content(m: { text?: string; blocks?: unknown[] }): { text?: string; blocks?: unknown[] } {
  return { ...(m.text !== undefined ? { text: m.text } : {}), ...(m.blocks ? { blocks: m.blocks } : {}) };
}
