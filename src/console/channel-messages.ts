/**
 * The channel messages the console has shown or posted, per channel, newest last: what `:shortcut`
 * uses a message shortcut on. A message shown again after an edit keeps its place. Bounded.
 */
export interface KnownMessage {
  ts: string;
  /** Who posted it (a user id; the bot's for opsbot's messages). */
  from: string;
  /** The thread it replies in, when it is a reply. */
  threadTs?: string;
  /** Its text as the console showed it, on one line and short: to say which message was used. */
  preview: string;
}

const PER_CHANNEL = 50;
const PREVIEW = 60;

export class ChannelMessages {
  readonly #byChannel = new Map<string, KnownMessage[]>();

  remember(channel: string, message: Omit<KnownMessage, 'preview'> & { text: string }): void {
    const list = this.#byChannel.get(channel) ?? [];
    const { text, ...rest } = message;
    const known: KnownMessage = { ...rest, preview: preview(text) };
    const at = list.findIndex((m) => m.ts === message.ts);
    if (at >= 0) list[at] = known;
    else list.push(known);
    if (list.length > PER_CHANNEL) list.splice(0, list.length - PER_CHANNEL);
    this.#byChannel.set(channel, list);
  }

  /** The `n`th latest message of the channel (1: the latest). */
  latest(channel: string, n = 1): KnownMessage | undefined {
    const list = this.#byChannel.get(channel) ?? [];
    return n >= 1 ? list[list.length - n] : undefined;
  }

  count(channel: string): number {
    return this.#byChannel.get(channel)?.length ?? 0;
  }
}

function preview(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > PREVIEW ? `${line.slice(0, PREVIEW - 1)}…` : line;
}
