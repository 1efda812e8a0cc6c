import type { View } from '@slack/web-api';
import { UserFacingError } from '../src/errors.js';

/** The form `/gh issue create` opens with no arguments; its callback id is the policy action. */
export function issueModal(channelId: string): View {
  const input = (
    blockId: string,
    label: string,
    options: { multiline?: boolean; optional?: boolean; max: number; placeholder: string },
  ) => ({
    type: 'input' as const,
    block_id: blockId,
    optional: options.optional ?? false,
    label: { type: 'plain_text' as const, text: label },
    element: {
      type: 'plain_text_input' as const,
      action_id: 'value',
      multiline: options.multiline ?? false,
      max_length: options.max,
      placeholder: { type: 'plain_text' as const, text: options.placeholder },
    },
  });
  return {
    type: 'modal',
    callback_id: 'gh:issue create',
    private_metadata: JSON.stringify({ channel: channelId }),
    title: { type: 'plain_text', text: 'New GitHub issue' },
    submit: { type: 'plain_text', text: 'Create' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      input('repo', 'Repository', { max: 140, placeholder: 'acme/web' }),
      input('title', 'Title', { max: 256, placeholder: 'What is wrong?' }),
      input('body', 'Description', {
        multiline: true,
        optional: true,
        max: 3_000,
        placeholder: 'Steps, expected, actual',
      }),
      input('labels', 'Labels', { optional: true, max: 200, placeholder: 'bug, p2' }),
    ],
  };
}

/** Reads the submitted form (`view.state.values` as JSON), refusing anything malformed. */
export function readIssueModal(valuesJson: string): {
  repo: string;
  title: string;
  body?: string;
  labels: string[];
} {
  let values: Record<string, Record<string, { value?: unknown }>>;
  try {
    values = JSON.parse(valuesJson) as typeof values;
  } catch {
    throw new UserFacingError('That form could not be read. Run `/gh issue create` again.');
  }
  const read = (block: string) => {
    const v = values?.[block]?.value?.value;
    return typeof v === 'string' ? v.trim() : '';
  };
  const body = read('body');
  return {
    repo: read('repo'),
    title: read('title'),
    ...(body ? { body } : {}),
    labels: read('labels')
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && l.length <= 50)
      .slice(0, 10),
  };
}
