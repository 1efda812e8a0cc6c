/**
 * Renders a Slack message (text + Block Kit) as terminal text for `npm run console`: sections,
 * fields, headers, context, dividers, and buttons numbered so `:click 2` presses one. Remote text
 * is untrusted: control characters are stripped, everything is bounded, nothing throws.
 */
export interface RenderedButton {
  n: number;
  text: string;
  actionId: string;
  blockId?: string;
  value?: string;
  url?: string;
  /** An option of a select menu: pressing it chooses this value. */
  option?: boolean;
  /** Slack's confirmation dialog (`confirm`): shown, and answered, before the press is sent. */
  confirm?: ConfirmDialog;
}

export interface ConfirmDialog {
  title: string;
  text: string;
  confirm: string;
  deny: string;
}

export interface RenderedMessage {
  text: string;
  buttons: RenderedButton[];
}

/** Names by id, to show mentions as Slack does: users and channels by name, user groups by handle. */
export interface Names {
  users?: Record<string, string>;
  channels?: Record<string, string>;
  usergroups?: Record<string, string>;
}

const MAX_BLOCKS = 50;
const MAX_BUTTONS = 100;
const MAX_OUTPUT = 20_000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Slack mrkdwn as plain text: mentions by name, links as `label (url)`, entities decoded. */
export function mrkdwnToPlain(text: string, names: Names = {}): string {
  return (
    text
      .replace(CONTROL, '')
      .replace(
        /<@([UW][A-Z0-9]+)(?:\|([^>]*))?>/g,
        (_m, id: string, label?: string) => `@${names.users?.[id] ?? label ?? id}`,
      )
      .replace(
        /<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>/g,
        (_m, id: string, label?: string) => `#${names.channels?.[id] ?? label ?? id}`,
      )
      .replace(
        /<!subteam\^(S[A-Z0-9]+)(?:\|([^>]*))?>/g,
        (_m, id: string, label?: string) => label || `@${names.usergroups?.[id] ?? id}`,
      )
      .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, '@$1')
      // A date Slack formats in the reader's time zone: the console shows its fallback (UTC).
      .replace(/<!date\^\d+\^[^|>]*\|([^>]*)>/g, '$1')
      .replace(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g, '$2 ($1)')
      .replace(/<((?:https?|mailto):[^>]+)>/g, '$1')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&')
      .replace(/\u200b/g, '')
  );
}

function textOf(value: unknown, names: Names): string {
  if (!value || typeof value !== 'object') return '';
  const t = value as { type?: unknown; text?: unknown };
  if (typeof t.text !== 'string') return '';
  return t.type === 'mrkdwn' ? mrkdwnToPlain(t.text, names) : t.text.replace(CONTROL, '');
}

/** A button's `confirm` object as plain text, with Slack's defaults for the two buttons. */
function confirmOf(value: unknown, names: Names): { confirm: ConfirmDialog } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const c = value as { title?: unknown; text?: unknown; confirm?: unknown; deny?: unknown };
  const bounded = (v: unknown, fallback: string, max: number) => (textOf(v, names) || fallback).slice(0, max);
  return {
    confirm: {
      title: bounded(c.title, 'Are you sure?', 100),
      text: bounded(c.text, '', 300),
      confirm: bounded(c.confirm, 'Yes', 30),
      deny: bounded(c.deny, 'Cancel', 30),
    },
  };
}

export function renderMessage(
  message: { text?: unknown; blocks?: unknown },
  options: { names?: Names; firstButton?: number } = {},
): RenderedMessage {
  const names = options.names ?? {};
  const buttons: RenderedButton[] = [];
  const lines: string[] = [];
  const addButton = (element: unknown, blockId: unknown): string | undefined => {
    if (!element || typeof element !== 'object') return undefined;
    const e = element as {
      type?: unknown;
      text?: unknown;
      action_id?: unknown;
      value?: unknown;
      url?: unknown;
      options?: unknown;
      placeholder?: unknown;
      confirm?: unknown;
    };
    if (e.type === 'static_select' && Array.isArray(e.options)) {
      // A select menu: each option is pressed like a button.
      const shown = e.options.slice(0, 20).map((o) => {
        const option = (o ?? {}) as { text?: unknown; value?: unknown };
        if (buttons.length >= MAX_BUTTONS) return '';
        const n = (options.firstButton ?? 1) + buttons.length;
        const label = textOf(option.text, names) || 'option';
        buttons.push({
          n,
          text: label,
          actionId: typeof e.action_id === 'string' ? e.action_id : '',
          ...(typeof blockId === 'string' ? { blockId } : {}),
          ...(typeof option.value === 'string' ? { value: option.value } : {}),
          option: true,
        });
        return `[${n} ${label}]`;
      });
      return `${textOf(e.placeholder, names) || 'menu'} ${shown.filter(Boolean).join(' ')}`;
    }
    if (e.type !== 'button' || buttons.length >= MAX_BUTTONS) return undefined;
    const n = (options.firstButton ?? 1) + buttons.length;
    const label = textOf(e.text, names) || 'button';
    buttons.push({
      n,
      text: label,
      actionId: typeof e.action_id === 'string' ? e.action_id : '',
      ...(typeof blockId === 'string' ? { blockId } : {}),
      ...(typeof e.value === 'string' ? { value: e.value } : {}),
      ...(typeof e.url === 'string' ? { url: e.url } : {}),
      ...(confirmOf(e.confirm, names) ?? {}),
    });
    return `[${n} ${label}]`;
  };
  const blocks = Array.isArray(message.blocks) ? message.blocks.slice(0, MAX_BLOCKS) : [];
  for (const raw of blocks) {
    if (!raw || typeof raw !== 'object') continue;
    const block = raw as {
      type?: unknown;
      text?: unknown;
      fields?: unknown;
      elements?: unknown;
      accessory?: unknown;
      alt_text?: unknown;
      block_id?: unknown;
    };
    switch (block.type) {
      case 'header': {
        const title = textOf(block.text, names);
        lines.push(title, '═'.repeat(Math.min(60, title.length)));
        break;
      }
      case 'section': {
        const text = textOf(block.text, names);
        if (text) lines.push(text);
        if (Array.isArray(block.fields)) {
          for (const field of block.fields.slice(0, 10))
            lines.push(`  ${textOf(field, names).replace(/\n/g, ': ')}`);
        }
        const button = addButton(block.accessory, block.block_id);
        if (button) lines.push(`  ${button}`);
        break;
      }
      case 'context': {
        const parts = Array.isArray(block.elements)
          ? block.elements.map((e) => textOf(e, names)).filter(Boolean)
          : [];
        if (parts.length) lines.push(`  ${parts.join(' · ')}`);
        break;
      }
      case 'divider':
        lines.push('─'.repeat(40));
        break;
      case 'actions': {
        const rendered = Array.isArray(block.elements)
          ? block.elements.map((e) => addButton(e, block.block_id)).filter(Boolean)
          : [];
        if (rendered.length) lines.push(rendered.join(' '));
        break;
      }
      case 'image':
        lines.push(
          `[image: ${typeof block.alt_text === 'string' ? block.alt_text.replace(CONTROL, '') : ''}]`,
        );
        break;
      default:
        lines.push(`[unsupported block: ${String(block.type).replace(CONTROL, '').slice(0, 30)}]`);
    }
  }
  if (lines.length === 0 && typeof message.text === 'string') lines.push(mrkdwnToPlain(message.text, names));
  let text = lines.join('\n');
  if (text.length > MAX_OUTPUT) text = `${text.slice(0, MAX_OUTPUT)}\n… (truncated)`;
  return { text, buttons };
}
