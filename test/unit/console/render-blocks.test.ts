import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mrkdwnToPlain, renderMessage } from '../../../src/console/render-blocks.js';

describe('renderMessage', () => {
  it('renders a realistic message and numbers its buttons in order', () => {
    const rendered = renderMessage(
      {
        text: 'fallback',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'PR #42' } },
          {
            type: 'section',
            text: { type: 'mrkdwn', text: '*Fix login* by <@U0DEV> in <#C0DEV|dev>' },
            accessory: {
              type: 'button',
              text: { type: 'plain_text', text: 'Open' },
              action_id: 'gh:open',
              value: '42',
            },
          },
          { type: 'section', fields: [{ type: 'mrkdwn', text: '*State*\nopen' }] },
          { type: 'context', elements: [{ type: 'mrkdwn', text: 'see <https://x.io/42|the PR>' }] },
          { type: 'divider' },
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                text: { type: 'plain_text', text: 'Re-run' },
                action_id: 'gh:rerun',
                value: 'r1',
              },
              { type: 'button', text: { type: 'plain_text', text: 'Cancel' }, action_id: 'gh:cancel' },
            ],
          },
          { type: 'mystery' },
        ],
      },
      { names: { users: { U0DEV: 'dev' } }, firstButton: 3 },
    );
    expect(rendered.text).toBe(
      [
        'PR #42',
        '══════',
        '*Fix login* by @dev in #dev',
        '  [3 Open]',
        '  *State*: open',
        '  see the PR (https://x.io/42)',
        '─'.repeat(40),
        '[4 Re-run] [5 Cancel]',
        '[unsupported block: mystery]',
      ].join('\n'),
    );
    expect(rendered.buttons.map((b) => [b.n, b.actionId, b.value])).toEqual([
      [3, 'gh:open', '42'],
      [4, 'gh:rerun', 'r1'],
      [5, 'gh:cancel', undefined],
    ]);
  });

  it('falls back to text, decodes entities and strips terminal escapes', () => {
    expect(renderMessage({ text: 'a &lt;b&gt; &amp; <!here> \u001b[2J' }).text).toBe('a <b> & @here [2J');
    expect(mrkdwnToPlain('<!subteam^S1|@platform> <mailto:a@b.c>')).toBe('@platform mailto:a@b.c');
    expect(mrkdwnToPlain('for <!subteam^S1> and <!subteam^S2>', { usergroups: { S1: 'platform' } })).toBe(
      'for @platform and @S2',
    );
  });

  it('never throws on malformed input; no escape characters; bounded (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (blocks, text) => {
        const out = renderMessage({ text, blocks: Array.isArray(blocks) ? blocks : [blocks] });
        expect(out.text).not.toContain('\u001b');
        expect(out.text.length).toBeLessThanOrEqual(20_020);
      }),
    );
    expect(
      renderMessage({
        blocks: [null, 1, { type: 'section', fields: 'x' }, { type: 'actions', elements: null }],
      }).text,
    ).toBe('');
  });

  it("carries a button's confirmation dialog as plain text, with Slack's defaults", () => {
    const rendered = renderMessage(
      {
        blocks: [
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                text: { type: 'plain_text', text: 'Stop (terminate)' },
                action_id: 'devenv:down',
                value: 'i-0123456789abcdef0',
                confirm: {
                  title: { type: 'plain_text', text: 'Terminate it?' },
                  text: { type: 'mrkdwn', text: '`web-1` <@U0DEV> and its disk will be gone.' },
                  confirm: { type: 'plain_text', text: 'Terminate' },
                  deny: { type: 'plain_text', text: 'Keep it' },
                },
              },
              { type: 'button', text: { type: 'plain_text', text: 'Sure?' }, action_id: 'x:y', confirm: {} },
              { type: 'button', text: { type: 'plain_text', text: 'Plain' }, action_id: 'x:z' },
            ],
          },
        ],
      },
      { names: { users: { U0DEV: 'dev' } } },
    );
    expect(rendered.buttons.map((b) => b.confirm)).toEqual([
      {
        title: 'Terminate it?',
        text: '`web-1` @dev and its disk will be gone.',
        confirm: 'Terminate',
        deny: 'Keep it',
      },
      { title: 'Are you sure?', text: '', confirm: 'Yes', deny: 'Cancel' },
      undefined,
    ]);
  });
});
