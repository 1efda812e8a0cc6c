import { describe, expect, it } from 'vitest';
import { createIssueForm } from '../../../commands/jira-forms.js';
import { FormFiller } from '../../../src/console/form-filler.js';
import { readForm, renderForm, submissionValues } from '../../../src/console/forms.js';
import { renderMessage } from '../../../src/console/render-blocks.js';

const USERS = { U0ADMIN: 'ada', U0DEV: 'dev', U0GUEST: 'guest' };

const assigneeModal = (initialUser?: string) => ({
  type: 'modal',
  callback_id: 'x:assign',
  title: { type: 'plain_text', text: 'Assign' },
  blocks: [
    {
      type: 'input',
      block_id: 'who',
      optional: true,
      label: { type: 'plain_text', text: 'Assignee' },
      element: {
        type: 'users_select',
        action_id: 'user',
        placeholder: { type: 'plain_text', text: 'Unassigned' },
        ...(initialUser ? { initial_user: initialUser } : {}),
      },
    },
  ],
});

describe('users_select in a form', () => {
  it("offers the workspace's users and submits the one chosen as Slack does", () => {
    const form = readForm({ id: 'V1', view: assigneeModal() }, { users: USERS });
    expect(form.fields[0]).toMatchObject({
      kind: 'select',
      elementType: 'users_select',
      options: [
        { text: 'ada', value: 'U0ADMIN' },
        { text: 'dev', value: 'U0DEV' },
        { text: 'guest', value: 'U0GUEST' },
      ],
    });
    expect(renderForm(form)).toContain(
      '  Assignee       [Unassigned                   ▾]  optional · ada / dev / guest',
    );
    for (const [typed, id] of [
      ['2', 'U0DEV'],
      ['dev', 'U0DEV'],
      ['@Guest', 'U0GUEST'],
      ['u0admin', 'U0ADMIN'],
    ] as const) {
      const filler = new FormFiller(form);
      expect(filler.prompt()).toBe('Assignee (optional; 1 ada, 2 dev, 3 guest): ');
      filler.answer(typed);
      expect(submissionValues(form, filler.answers)).toEqual({
        who: { user: { type: 'users_select', selected_user: id } },
      });
    }
  });

  it('refuses someone not in the workspace, sends null when left empty, and :clear empties it', () => {
    const form = readForm({ id: 'V1', view: assigneeModal('U0DEV') }, { users: USERS });
    const filler = new FormFiller(form);
    expect(filler.prompt()).toBe('Assignee (optional; 1 ada, 2 dev, 3 guest) [Enter keeps "dev"]: ');
    expect(filler.answer('nobody').say).toEqual([
      'Assignee: choose 1-3 or type a name or user id: ada (U0ADMIN), dev (U0DEV), guest (U0GUEST).',
    ]);
    expect(filler.answer(':clear').say.at(0)).toBe('  1 Assignee       –');
    expect(submissionValues(form, filler.answers)).toEqual({
      who: { user: { type: 'users_select', selected_user: null } },
    });
    // Without the workspace's users there is nothing to choose, and nothing is sent.
    const bare = readForm({ id: 'V2', view: assigneeModal() });
    const empty = new FormFiller(bare);
    expect(empty.answer('dev').say).toEqual(['Assignee: there is nothing to choose from.']);
    expect(submissionValues(bare, empty.answers)).toEqual({
      who: { user: { type: 'users_select', selected_user: null } },
    });
  });

  it("fills opsbot's Jira create form: a multi-line pre-fill shows on one line, the assignee is a user", () => {
    const view = createIssueForm(
      { channel: 'C0DEV', thread: '1.000001' },
      {
        project: 'OPS',
        summary: 'Slow login',
        description: 'Line one\nFrom Slack: https://example.slack.com',
      },
    );
    const form = readForm({ id: 'V3', view }, { users: USERS });
    const rendered = renderForm(form);
    expect(rendered).toContain('  Description    [Line one⏎From Slack: https://…]');
    expect(rendered.split('\n')).toHaveLength(8); // title, 6 inputs, the buttons
    const filler = new FormFiller(form);
    for (const line of ['', '3', '', '', '', 'dev']) filler.answer(line);
    expect(submissionValues(form, filler.answers)).toMatchObject({
      project: { value: { type: 'plain_text_input', value: 'OPS' } },
      type: { value: { type: 'static_select', selected_option: { value: 'story' } } },
      summary: { value: { type: 'plain_text_input', value: 'Slow login' } },
      priority: { value: { type: 'static_select', selected_option: null } },
      assignee: { value: { type: 'users_select', selected_user: 'U0DEV' } },
    });
  });
});

describe('select menus in a message', () => {
  it('numbers each option of a static_select after the buttons before it, with its value', () => {
    const { text, buttons } = renderMessage({
      blocks: [
        {
          type: 'actions',
          block_id: 'jira-issue',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Assign to me' },
              action_id: 'jira:assign',
              value: 'OPS-1',
            },
            {
              type: 'static_select',
              action_id: 'jira:move',
              placeholder: { type: 'plain_text', text: 'Move to…' },
              options: [
                { text: { type: 'plain_text', text: 'To Do' }, value: 'OPS-1|To Do' },
                { text: { type: 'plain_text', text: 'Done' }, value: 'OPS-1|Done' },
              ],
            },
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Comment' },
              action_id: 'jira:comment',
              value: 'OPS-1',
            },
          ],
        },
      ],
    });
    expect(text).toBe('[1 Assign to me] Move to… [2 To Do] [3 Done] [4 Comment]');
    expect(buttons[2]).toEqual({
      n: 3,
      text: 'Done',
      actionId: 'jira:move',
      blockId: 'jira-issue',
      value: 'OPS-1|Done',
      option: true,
    });
  });
});
