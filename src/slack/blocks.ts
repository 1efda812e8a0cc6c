import type { Button, KnownBlock } from '@slack/web-api';
import { truncate } from './escape.js';

/**
 * Small Block Kit builders that keep within Slack's limits (text 3,000 characters per section,
 * 150 per header, 75 per button label), so a long result is cut, never refused by Slack.
 */
export function header(text: string): KnownBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, 150), emoji: true } };
}

export function section(mrkdwn: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, 3_000) } };
}

/** Lines split across as many sections as needed (at most `maxBlocks`). */
export function sections(lines: readonly string[], maxBlocks = 20): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  let current = '';
  for (const line of lines) {
    if (current.length + line.length + 1 > 2_900) {
      blocks.push(section(current));
      current = '';
      if (blocks.length >= maxBlocks) return blocks;
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) blocks.push(section(current));
  return blocks.slice(0, maxBlocks);
}

export function fields(pairs: ReadonlyArray<readonly [string, string]>): KnownBlock {
  return {
    type: 'section',
    fields: pairs.slice(0, 10).map(([label, value]) => ({
      type: 'mrkdwn' as const,
      text: truncate(`*${label}*\n${value}`, 2_000),
    })),
  };
}

export function context(mrkdwn: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(mrkdwn, 3_000) }] };
}

export function divider(): KnownBlock {
  return { type: 'divider' };
}

export function button(text: string, actionId: string, value: string, style?: 'primary' | 'danger'): Button {
  return {
    type: 'button',
    text: { type: 'plain_text', text: truncate(text, 75), emoji: true },
    action_id: actionId,
    value: value.slice(0, 2_000),
    ...(style ? { style } : {}),
  };
}

export function actions(buttons: Button[], blockId?: string): KnownBlock {
  return { type: 'actions', elements: buttons.slice(0, 25), ...(blockId ? { block_id: blockId } : {}) };
}
