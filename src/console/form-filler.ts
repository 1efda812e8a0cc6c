import { type Form, type FormField, labelWidth, optionText } from './forms.js';

/** Typed for an optional input that has a value: leaves it empty. */
const CLEAR = ':clear';

// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** What one typed line did: lines to show, and whether the form is to be submitted or closed. */
export interface FillStep {
  say: string[];
  action?: 'submit' | 'cancel';
}

/**
 * Fills a {@link Form} one input at a time, the way the Slack client checks it: a required input
 * must not be empty, text respects min_length and max_length, a select takes one of its options
 * (by number or name; a users_select also by @name or user id); `:clear` empties an optional input. After the last input comes a review: Enter submits, a number asks for that
 * input again, `:cancel` closes the form. `refuse` asks again for the inputs the app refused.
 */
export class FormFiller {
  readonly #answers = new Map<string, string | undefined>();
  /** Indexes into `form.fields` still to ask, in order; empty while reviewing. */
  #queue: number[];

  constructor(readonly form: Form) {
    this.#queue = form.fields.map((_, i) => i);
    for (const field of form.fields) this.#answers.set(field.blockId, field.initial);
  }

  /** The answers so far, by block id (`undefined`: left empty). */
  get answers(): ReadonlyMap<string, string | undefined> {
    return this.#answers;
  }

  /** What to print before reading the next line. */
  prompt(): string {
    const field = this.#current();
    if (!field) return `${this.form.title}> `;
    const choices =
      field.kind === 'select' ? (field.options ?? []).map((o, i) => `${i + 1} ${o.text}`).join(', ') : '';
    const notes = [...(field.optional ? ['optional'] : []), ...(choices ? [choices] : [])].join('; ');
    const kept = this.#answers.get(field.blockId);
    const shown = field.kind === 'select' ? optionText(field, kept) : kept?.replace(/\n/g, '⏎');
    return `${field.label}${notes ? ` (${notes})` : ''}${shown ? ` [Enter keeps "${shown.slice(0, 60)}"]` : ''}: `;
  }

  answer(line: string): FillStep {
    if (line.trim() === ':cancel') return { say: [], action: 'cancel' };
    const field = this.#current();
    if (!field) return this.#review(line.trim());
    const kept = this.#answers.get(field.blockId);
    if (line.trim() === CLEAR) {
      if (!field.optional) return { say: [`${field.label} is required: it cannot be left empty.`] };
      this.#answers.set(field.blockId, undefined);
      this.#queue.shift();
      return { say: this.#queue.length === 0 ? this.summary() : [] };
    }
    const checked = check(field, line, kept !== undefined);
    if ('problem' in checked) return { say: [checked.problem] };
    if (checked.value !== undefined) this.#answers.set(field.blockId, checked.value);
    this.#queue.shift();
    return { say: this.#queue.length === 0 ? this.summary() : [] };
  }

  /** The app's `response_action: errors` (block id → message): asks for those inputs again. */
  refuse(errors: Record<string, unknown>): string[] {
    const said: string[] = [];
    const again: number[] = [];
    this.form.fields.forEach((field, i) => {
      const message = errors[field.blockId];
      if (typeof message !== 'string') return;
      said.push(`${field.label}: ${message.replace(CONTROL, ' ').slice(0, 200)}`);
      again.push(i);
    });
    this.#queue = again;
    return said;
  }

  /** The answers, numbered, and what to type next. */
  summary(): string[] {
    const width = labelWidth(this.form);
    const n = this.form.fields.length;
    return [
      ...this.form.fields.map((field, i) => {
        const value = this.#answers.get(field.blockId);
        const shown = field.kind === 'select' ? optionText(field, value) : value?.replace(/\n/g, '⏎');
        return `  ${String(i + 1)} ${field.label.padEnd(width)}${shown || '–'}`;
      }),
      `Enter presses ${this.form.submit}; a number changes that field (1-${n}); :cancel closes the form.`,
    ];
  }

  #current(): FormField | undefined {
    const index = this.#queue[0];
    return index === undefined ? undefined : this.form.fields[index];
  }

  #review(line: string): FillStep {
    if (line === '' || line === ':submit') return { say: [], action: 'submit' };
    const n = Number(line);
    if (Number.isInteger(n) && n >= 1 && n <= this.form.fields.length) {
      this.#queue = [n - 1];
      return { say: [] };
    }
    return { say: this.summary().slice(-1) };
  }
}

/** The value typed (`undefined`: nothing, keep what there is), or why the line is refused. */
function check(
  field: FormField,
  line: string,
  hasValue: boolean,
): { value: string | undefined } | { problem: string } {
  const typed = line.trim();
  if (typed === '') {
    if (field.optional || hasValue) return { value: undefined };
    return { problem: `${field.label} is required.` };
  }
  if (field.kind === 'select') {
    const options = field.options ?? [];
    const users = field.elementType === 'users_select';
    // A person is picked by number, name, @name or user id.
    const wanted = (users ? typed.replace(/^@/, '') : typed).toLowerCase();
    const option = /^\d+$/.test(typed)
      ? options[Number(typed) - 1]
      : options.find((o) => [o.text, o.value].some((t) => t.toLowerCase() === wanted));
    if (option) return { value: option.value };
    if (options.length === 0) return { problem: `${field.label}: there is nothing to choose from.` };
    return {
      problem: `${field.label}: choose 1-${options.length} or type ${users ? 'a name or user id' : 'an option'}: ${options.map((o) => (users ? `${o.text} (${o.value})` : o.text)).join(', ')}.`,
    };
  }
  const value = field.multiline ? line.replace(/\\n/g, '\n') : line;
  if (field.maxLength !== undefined && value.length > field.maxLength)
    return { problem: `${field.label}: at most ${field.maxLength} characters (that was ${value.length}).` };
  if (field.minLength !== undefined && value.length < field.minLength)
    return { problem: `${field.label}: at least ${field.minLength} characters (that was ${value.length}).` };
  return { value };
}
