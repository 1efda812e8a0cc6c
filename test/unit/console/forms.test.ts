import { describe, expect, it } from 'vitest';
import { issueModal } from '../../../commands/gh-modal.js';
import { FormFiller } from '../../../src/console/form-filler.js';
import { readForm, renderForm, submissionValues } from '../../../src/console/forms.js';

const priorityModal = {
  type: 'modal',
  callback_id: 'jira:create',
  private_metadata: '{"channel":"C0OPS"}',
  title: { type: 'plain_text', text: 'New Jira issue' },
  blocks: [
    { type: 'section', text: { type: 'mrkdwn', text: 'Creates an issue in *OPS*.' } },
    {
      type: 'input',
      block_id: 'summary',
      label: { type: 'plain_text', text: 'Summary' },
      element: {
        type: 'plain_text_input',
        action_id: 'v',
        min_length: 5,
        initial_value: 'Rotate the cert',
      },
      hint: { type: 'plain_text', text: 'One line.' },
    },
    {
      type: 'input',
      block_id: 'priority',
      optional: true,
      label: { type: 'plain_text', text: 'Priority' },
      element: {
        type: 'static_select',
        action_id: 'choice',
        placeholder: { type: 'plain_text', text: 'How urgent?' },
        options: [
          { text: { type: 'plain_text', text: 'Low' }, value: 'low' },
          { text: { type: 'plain_text', text: 'High' }, value: 'high' },
        ],
      },
    },
    {
      type: 'input',
      block_id: 'when',
      optional: true,
      label: { type: 'plain_text', text: 'Due' },
      element: { type: 'datepicker', action_id: 'd' },
    },
  ],
};

describe('readForm and renderForm', () => {
  it("shows the GitHub issue form's title, inputs, placeholders and which are optional", () => {
    const form = readForm({ id: 'V1', view: issueModal('C0DEV') });
    expect(form).toMatchObject({ viewId: 'V1', callbackId: 'gh:issue create', submit: 'Create' });
    expect(renderForm(form)).toBe(
      [
        'New GitHub issue',
        '  Repository     [acme/web                      ]',
        '  Title          [What is wrong?                ]',
        '  Description    [Steps, expected, actual       ]  optional · several lines (type \\n for a new one)',
        '  Labels         [bug, p2                       ]  optional',
        '  (Create) (Cancel)',
      ].join('\n'),
    );
  });

  it('shows other blocks, selects with their options, hints and inputs it cannot fill', () => {
    expect(renderForm(readForm({ id: 'V2', view: priorityModal }))).toBe(
      [
        'New Jira issue',
        '  Creates an issue in *OPS*.',
        '  Summary        [Rotate the cert               ]  One line.',
        '  Priority       [How urgent?                  ▾]  optional · Low / High',
        '  Due            (a datepicker: the console cannot fill it; it is left empty)',
        '  (Submit) (Cancel)',
      ].join('\n'),
    );
  });
});

describe('FormFiller', () => {
  it('asks for each input in turn, checks it as Slack does, then offers to submit or change a field', () => {
    const filler = new FormFiller(readForm({ id: 'V1', view: issueModal('C0DEV') }));
    const said: string[] = [];
    const answer = (line: string) => {
      said.push(`${filler.prompt()}${line}`);
      const step = filler.answer(line);
      said.push(...step.say);
      return step;
    };
    expect(answer('').action).toBeUndefined();
    answer('acme/web');
    answer('x'.repeat(300));
    answer('Login fails');
    answer('Line one\\nline two');
    answer('bug, p2');
    answer('2');
    answer('Login fails on Safari');
    expect(answer('').action).toBe('submit');
    expect(said).toEqual([
      'Repository: ',
      'Repository is required.',
      'Repository: acme/web',
      `Title: ${'x'.repeat(300)}`,
      'Title: at most 256 characters (that was 300).',
      'Title: Login fails',
      'Description (optional): Line one\\nline two',
      'Labels (optional): bug, p2',
      '  1 Repository     acme/web',
      '  2 Title          Login fails',
      '  3 Description    Line one⏎line two',
      '  4 Labels         bug, p2',
      'Enter presses Create; a number changes that field (1-4); :cancel closes the form.',
      'New GitHub issue> 2',
      'Title [Enter keeps "Login fails"]: Login fails on Safari',
      '  1 Repository     acme/web',
      '  2 Title          Login fails on Safari',
      '  3 Description    Line one⏎line two',
      '  4 Labels         bug, p2',
      'Enter presses Create; a number changes that field (1-4); :cancel closes the form.',
      'New GitHub issue> ',
    ]);
    expect(submissionValues(filler.form, filler.answers)).toEqual({
      repo: { value: { type: 'plain_text_input', value: 'acme/web' } },
      title: { value: { type: 'plain_text_input', value: 'Login fails on Safari' } },
      body: { value: { type: 'plain_text_input', value: 'Line one\nline two' } },
      labels: { value: { type: 'plain_text_input', value: 'bug, p2' } },
    });
  });

  it('keeps an initial value on Enter, picks an option by number or name, and cancels', () => {
    const filler = new FormFiller(readForm({ id: 'V2', view: priorityModal }));
    expect(filler.prompt()).toBe('Summary [Enter keeps "Rotate the cert"]: ');
    filler.answer('');
    expect(filler.prompt()).toBe('Priority (optional; 1 Low, 2 High): ');
    expect(filler.answer('3').say).toEqual(['Priority: choose 1-2 or type an option: Low, High.']);
    filler.answer('high');
    expect(submissionValues(filler.form, filler.answers)).toEqual({
      summary: { v: { type: 'plain_text_input', value: 'Rotate the cert' } },
      priority: {
        choice: {
          type: 'static_select',
          selected_option: { text: { type: 'plain_text', text: 'High' }, value: 'high' },
        },
      },
    });
    expect(filler.answer('2').say).toEqual([]);
    expect(filler.prompt()).toBe('Priority (optional; 1 Low, 2 High) [Enter keeps "High"]: ');
    expect(filler.answer('').say.at(-1)).toMatch(/^Enter presses Submit;/);
    filler.answer('1');
    expect(filler.prompt()).toBe('Summary [Enter keeps "Rotate the cert"]: ');
    expect(filler.answer('abc').say).toEqual(['Summary: at least 5 characters (that was 3).']);
    expect(filler.answer(':cancel').action).toBe('cancel');
  });

  it('asks again for the fields the app refused (response_action: errors)', () => {
    const filler = new FormFiller(readForm({ id: 'V1', view: issueModal('C0DEV') }));
    for (const line of ['nope', 'T', '', '']) filler.answer(line);
    expect(filler.prompt()).toBe('New GitHub issue> ');
    expect(filler.refuse({ repo: 'Not a repository', nowhere: 'ignored' })).toEqual([
      'Repository: Not a repository',
    ]);
    expect(filler.prompt()).toBe('Repository [Enter keeps "nope"]: ');
    filler.answer('acme/web');
    expect(filler.prompt()).toBe('New GitHub issue> ');
  });
});
