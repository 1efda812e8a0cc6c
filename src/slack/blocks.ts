import type { ActionsBlockElement, Button, KnownBlock } from '@slack/web-api';
import { truncate } from '../text/escape.js';

/**
 * Small Block Kit builders that keep within Slack's limits (text 3,000 characters per section,
 * 150 per header, 75 per button label, 50 blocks per message), so a long result is cut, never
 * refused by Slack.
 */

/** Slack's limit on a section's text. */
export const MAX_SECTION_TEXT = 3_000;
/** Slack's limit on the blocks of one message. */
export const MAX_BLOCKS = 50;

export function header(text: string): KnownBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, 150), emoji: true } };
}

export function section(mrkdwn: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, MAX_SECTION_TEXT) } };
}

/**
 * Lines as sections, split only at line boundaries (a link or a code span is never cut in two),
 * each section under Slack's 3,000 characters, at most `maxBlocks` of them (never more than 50).
 * What does not fit is counted in a last line, `…and 12 more lines`; only a single line longer
 * than a section is cut.
 *
 * @example
 * blocks: [header(title), ...sections(lines, 48), actions(buttons)] // within 50 blocks
 */
export function sections(lines: readonly string[], maxBlocks = 20): KnownBlock[] {
  const budget = Math.max(1, Math.min(maxBlocks, MAX_BLOCKS));
  const all = lines.flatMap((line) => line.split('\n')).map((line) => truncate(line, MAX_SECTION_TEXT));
  if (all.join('\n') === '') return [];
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = -1;
  for (const line of all) {
    if (current.length > 0 && size + 1 + line.length > MAX_SECTION_TEXT) {
      chunks.push(current);
      current = [];
      size = -1;
    }
    current.push(line);
    size += 1 + line.length;
  }
  chunks.push(current);
  if (chunks.length <= budget) return chunks.map((chunk) => section(chunk.join('\n')));
  const kept = chunks.slice(0, budget);
  const before = kept.slice(0, -1).reduce((n, chunk) => n + chunk.length, 0);
  const last = [...(kept[budget - 1] as string[])];
  const note = () => moreLines(all.length - before - last.length);
  // Make room in the last section for the line that says how many were left out.
  while (last.length > 0 && [...last, note()].join('\n').length > MAX_SECTION_TEXT) last.pop();
  kept[budget - 1] = [...last, note()];
  return kept.map((chunk) => section(chunk.join('\n')));
}

function moreLines(count: number): string {
  return `_…and ${count} more line${count === 1 ? '' : 's'}_`;
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

export function actions(elements: ActionsBlockElement[], blockId?: string): KnownBlock {
  return { type: 'actions', elements: elements.slice(0, 25), ...(blockId ? { block_id: blockId } : {}) };
}
