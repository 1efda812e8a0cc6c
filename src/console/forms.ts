import { renderMessage } from './render-blocks.js';

/**
 * Modals in the console: what `views.open` put on screen, read from its Block Kit (title, submit
 * and close labels, and each `input` block), drawn as terminal text, and turned back into the
 * `view.state.values` Slack sends with the `view_submission`. Fillable inputs are `plain_text_input`,
 * `static_select` and `users_select` (a choice among the workspace's users, as the Slack client
 * offers it); any other input is shown and left empty. Remote text is untrusted: control characters
 * are stripped and everything is bounded.
 */
export interface FormOption {
  text: string;
  value: string;
}

export interface FormField {
  blockId: string;
  actionId: string;
  label: string;
  optional: boolean;
  /**
   * `text` (plain_text_input), `select` (a choice among `options`: static_select, or users_select
   * whose options are the workspace's users, value = user id), or an input the console cannot fill.
   */
  kind: 'text' | 'select' | 'unsupported';
  /** The Block Kit element type (`plain_text_input`, `static_select`, `users_select`, `datepicker`…). */
  elementType: string;
  placeholder?: string;
  hint?: string;
  multiline?: boolean;
  minLength?: number;
  maxLength?: number;
  /** `initial_value`, the value of `initial_option`, or `initial_user`. */
  initial?: string;
  options?: FormOption[];
}

export interface Form {
  viewId: string;
  title: string;
  submit: string;
  close: string;
  callbackId: string;
  privateMetadata: string;
  /** Every block in order: an input, or the text of any other block. */
  items: Array<{ field: FormField } | { text: string }>;
  /** The inputs the console can fill, in order. */
  fields: FormField[];
}

/** The `view.state.values` of a submission: block id → action id → the element's state. */
export type StateValues = Record<string, Record<string, unknown>>;

const MAX_BLOCKS = 100;
const MAX_OPTIONS = 100;
const BOX = 30;
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;

/** What the Slack client knows besides the view: the workspace's users (id → name) for users_select. */
export interface FormContext {
  users?: Readonly<Record<string, string>>;
}

export function readForm(stored: { id: string; view: unknown }, context: FormContext = {}): Form {
  const view = (isObject(stored.view) ? stored.view : {}) as Record<string, unknown>;
  const items: Form['items'] = [];
  const blocks = Array.isArray(view.blocks) ? view.blocks.slice(0, MAX_BLOCKS) : [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (block.type === 'input') items.push({ field: readInput(block, context) });
    else {
      const text = renderMessage({ blocks: [block] }).text;
      if (text) items.push({ text });
    }
  }
  return {
    viewId: stored.id,
    title: plain(view.title) || 'Form',
    submit: plain(view.submit) || 'Submit',
    close: plain(view.close) || 'Cancel',
    callbackId: str(view.callback_id),
    privateMetadata: str(view.private_metadata),
    items,
    fields: items.flatMap((i) => ('field' in i && i.field.kind !== 'unsupported' ? [i.field] : [])),
  };
}

/** The form as it would look in Slack: title, each input as a box with its placeholder, buttons. */
export function renderForm(form: Form): string {
  const width = labelWidth(form);
  const lines = [form.title];
  for (const item of form.items) {
    if ('text' in item) {
      lines.push(...item.text.split('\n').map((l) => `  ${l}`));
      continue;
    }
    const f = item.field;
    const label = `  ${f.label.padEnd(width)}`;
    if (f.kind === 'unsupported') {
      lines.push(`${label}(a ${f.elementType}: the console cannot fill it; it is left empty)`);
      continue;
    }
    const shown = (
      (f.kind === 'select' ? optionText(f, f.initial) : f.initial) ??
      f.placeholder ??
      ''
    ).replace(/\n/g, '⏎');
    const box =
      f.kind === 'select'
        ? `[${clip(shown, BOX - 1).padEnd(BOX - 1)}▾]`
        : `[${clip(shown, BOX).padEnd(BOX)}]`;
    const notes = [
      ...(f.optional ? ['optional'] : []),
      ...(f.multiline ? ['several lines (type \\n for a new one)'] : []),
      ...(f.options ? [clip(f.options.map((o) => o.text).join(' / '), 80)] : []),
      ...(f.hint ? [f.hint] : []),
    ];
    lines.push(`${label}${box}${notes.length ? `  ${notes.join(' · ')}` : ''}`);
  }
  lines.push(`  (${form.submit}) (${form.close})`);
  return lines.join('\n');
}

/** The values Slack would send for these answers (block id → answer; `undefined`: left empty). */
export function submissionValues(form: Form, answers: ReadonlyMap<string, string | undefined>): StateValues {
  const values: StateValues = {};
  for (const field of form.fields) {
    const answer = answers.get(field.blockId);
    let state: unknown;
    if (field.kind === 'text') state = { type: 'plain_text_input', value: answer ?? null };
    else if (field.elementType === 'users_select') {
      const known = field.options?.some((o) => o.value === answer);
      state = { type: 'users_select', selected_user: known ? answer : null };
    } else {
      const option = field.options?.find((o) => o.value === answer);
      state = {
        type: 'static_select',
        selected_option: option
          ? { text: { type: 'plain_text', text: option.text }, value: option.value }
          : null,
      };
    }
    values[field.blockId] = { [field.actionId]: state };
  }
  return values;
}

/** The width labels are padded to, in the form and in its review. */
export function labelWidth(form: Form): number {
  const longest = Math.max(0, ...form.items.map((i) => ('field' in i ? i.field.label.length : 0)));
  return Math.min(30, Math.max(15, longest + 2));
}

/** The text of the option whose value is `value`. */
export function optionText(field: FormField, value: string | undefined): string | undefined {
  return field.options?.find((o) => o.value === value)?.text;
}

function readInput(block: Record<string, unknown>, context: FormContext): FormField {
  const element = (isObject(block.element) ? block.element : {}) as Record<string, unknown>;
  const elementType = clip(str(element.type), 40) || 'element';
  const users = elementType === 'users_select';
  const kind =
    elementType === 'plain_text_input'
      ? 'text'
      : elementType === 'static_select' || users
        ? 'select'
        : 'unsupported';
  const options = users ? userOptions(context) : kind === 'select' ? readOptions(element) : undefined;
  const initialOption = isObject(element.initial_option) ? str(element.initial_option.value) : '';
  const initial =
    kind === 'text' ? str(element.initial_value) : users ? str(element.initial_user) : initialOption;
  return {
    blockId: str(block.block_id),
    actionId: str(element.action_id),
    label: clip(plain(block.label), 28) || 'Input',
    optional: block.optional === true,
    kind,
    elementType,
    ...(plain(element.placeholder) ? { placeholder: plain(element.placeholder) } : {}),
    ...(plain(block.hint) ? { hint: clip(plain(block.hint), 120) } : {}),
    ...(element.multiline === true ? { multiline: true } : {}),
    ...(typeof element.min_length === 'number' ? { minLength: element.min_length } : {}),
    ...(typeof element.max_length === 'number' ? { maxLength: element.max_length } : {}),
    ...(initial ? { initial } : {}),
    ...(options ? { options } : {}),
  };
}

function readOptions(element: Record<string, unknown>): FormOption[] {
  const groups = Array.isArray(element.option_groups) ? element.option_groups : [];
  const raw = [
    ...(Array.isArray(element.options) ? element.options : []),
    ...groups.flatMap((g) => (isObject(g) && Array.isArray(g.options) ? g.options : [])),
  ];
  return raw
    .slice(0, MAX_OPTIONS)
    .filter(isObject)
    .map((o) => ({ text: clip(plain(o.text), 75) || str(o.value), value: str(o.value) }));
}

/** The workspace's users as a users_select offers them: by name, the value being the user id. */
function userOptions(context: FormContext): FormOption[] {
  return Object.entries(context.users ?? {})
    .slice(0, MAX_OPTIONS)
    .map(([id, name]) => ({ text: clip(name.replace(CONTROL, ''), 75) || id, value: id }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, 3_000) : '';
}

/** A plain_text (or mrkdwn) object's text, on one line, without control characters. */
function plain(value: unknown): string {
  if (!isObject(value)) return '';
  return str(value.text).replace(CONTROL, '').replace(/\n/g, ' ').trim();
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
