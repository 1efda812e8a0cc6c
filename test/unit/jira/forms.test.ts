import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commentForm,
  createIssueForm,
  ISSUE_TYPES,
  MAX_DESCRIPTION,
  PRIORITIES,
  plainFromSlack,
  readCommentForm,
  readCreateForm,
} from '../../../commands/jira-forms.js';

const USERS = { U0DEV: '5b10a2844c20165700ede21g' };
const values = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    project: { value: { type: 'plain_text_input', value: 'ops' } },
    type: { value: { type: 'static_select', selected_option: { value: 'bug' } } },
    summary: { value: { type: 'plain_text_input', value: '  Checkout 502s  ' } },
    description: { value: { type: 'plain_text_input', value: null } },
    priority: { value: { type: 'static_select', selected_option: null } },
    assignee: { value: { type: 'users_select', selected_user: null } },
    ...over,
  });
const input = (value: unknown) => ({ value: { type: 'plain_text_input', value } });

describe('the create form', () => {
  it('reads a valid submission: project upper-cased, text trimmed, empty optional fields left out', () => {
    expect(readCreateForm(values(), USERS)).toEqual({
      form: { project: 'OPS', type: 'bug', summary: 'Checkout 502s' },
    });
    const assigned = readCreateForm(
      values({ assignee: { value: { type: 'users_select', selected_user: 'U0DEV' } } }),
      USERS,
    );
    expect(assigned.form.assignee).toBe('U0DEV');
    expect(assigned.errors).toBeUndefined();
  });

  it('names every bad field by its block id', () => {
    const { errors } = readCreateForm(
      values({
        project: input('not a key'),
        summary: input(''),
        type: { value: { type: 'static_select', selected_option: { value: 'epic' } } },
        priority: { value: { type: 'static_select', selected_option: { value: 'urgent' } } },
        assignee: { value: { type: 'users_select', selected_user: 'U0GUEST' } },
        description: input('d'.repeat(MAX_DESCRIPTION + 1)),
      }),
      USERS,
    );
    expect(Object.keys(errors ?? {}).sort()).toEqual([
      'assignee',
      'description',
      'priority',
      'project',
      'summary',
      'type',
    ]);
    expect(readCreateForm(values({ summary: input('x'.repeat(256)) }), USERS).errors?.summary).toMatch(/255/);
    expect(readCreateForm(values({ summary: input('a\nb') }), USERS).errors?.summary).toMatch(/One line/);
  });

  it('never throws on what arrives, and refuses whatever is not a submission', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (raw) => {
        const { errors } = readCreateForm(raw, USERS);
        expect(errors?.summary).toBeTruthy();
      }),
    );
  });

  it('keeps pre-filled text within what Slack accepts, and says where answers go', () => {
    const view = createIssueForm(
      { channel: 'C0DEV', thread: '1700000000.000100' },
      { project: 'OPS', summary: 's'.repeat(400), description: 'd'.repeat(5_000), type: 'story' },
    );
    expect(JSON.parse(view.private_metadata ?? '')).toEqual({
      channel: 'C0DEV',
      thread: '1700000000.000100',
    });
    for (const block of view.blocks as Array<{ element?: { initial_value?: string; max_length?: number } }>) {
      const e = block.element;
      if (e?.initial_value !== undefined)
        expect(e.initial_value.length).toBeLessThanOrEqual(e.max_length ?? 0);
    }
    expect(JSON.parse(commentForm({ channel: 'C0DEV' }, 'OPS-4').private_metadata ?? '')).toEqual({
      channel: 'C0DEV',
      key: 'OPS-4',
    });
  });
});

describe('option checks are own-property lookups', () => {
  const PROTO = Object.getOwnPropertyNames(Object.prototype);
  const choice = (value: string) => ({ value: { type: 'static_select', selected_option: { value } } });
  const person = (id: string) => ({ value: { type: 'users_select', selected_user: id } });

  it('refuses `__proto__`, `constructor`, `toString` as issue type, priority and assignee', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const { errors } = readCreateForm(
        values({ type: choice(key), priority: choice(key), assignee: person(key) }),
        USERS,
      );
      expect(Object.keys(errors ?? {}).sort(), key).toEqual(['assignee', 'priority', 'type']);
    }
  });

  it('accepts exactly the declared options and mapped users (property)', () => {
    const key = fc.oneof(
      fc.constantFrom(...PROTO, 'task', 'bug', 'high', 'U0DEV'),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(key, key, key, (type, priority, assignee) => {
        fc.pre([type, priority, assignee].every((k) => k !== '' && k.trim() === k));
        const { errors } = readCreateForm(
          values({ type: choice(type), priority: choice(priority), assignee: person(assignee) }),
          USERS,
        );
        expect(Boolean(errors?.type), type).toBe(!Object.hasOwn(ISSUE_TYPES, type));
        expect(Boolean(errors?.priority), priority).toBe(!Object.hasOwn(PRIORITIES, priority));
        expect(Boolean(errors?.assignee), assignee).toBe(!Object.hasOwn(USERS, assignee));
      }),
      { numRuns: 500 },
    );
  });
});

describe('the comment form', () => {
  it('refuses an empty comment and keeps a real one', () => {
    expect(readCommentForm(JSON.stringify({ comment: input('   ') })).errors?.comment).toBeTruthy();
    expect(readCommentForm(JSON.stringify({ comment: input(' Looks good ') }))).toEqual({
      text: 'Looks good',
    });
  });
});

describe('plainFromSlack', () => {
  it('turns Slack message markup into readable text', () => {
    expect(plainFromSlack('hi <@U0DEV>, see <https://x.example|the doc> &amp; <#C0OPS|ops> <!here>')).toBe(
      'hi @U0DEV, see the doc (https://x.example) & #ops @here',
    );
    expect(plainFromSlack('<https://bare.example> &lt;b&gt;')).toBe('https://bare.example <b>');
  });

  it('leaves text without markup as it is', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 200 }).filter((t) => !/[<>&]/.test(t)),
        (text) => plainFromSlack(text) === text,
      ),
    );
  });
});
