import type { Interface } from 'node:readline';

/**
 * The console's output: lines said while a command runs, the prompt, and lines that arrive while
 * the prompt waits for input (an alert posted, a reaper's DM, a late reply). Those are printed when
 * they arrive, and the prompt is drawn again after them: on a terminal with what was typed so far
 * (readline redraws its line), on a pipe as a fresh prompt on a new line.
 */
export class Terminal {
  #waiting = false;

  constructor(
    readonly output: NodeJS.WritableStream,
    /** The prompt to draw (it changes with the user, the channel, an open form or question). */
    readonly promptText: () => string,
    /** The readline interface when the input is a terminal: it owns the line being typed. */
    readonly tty?: Interface,
  ) {}

  /** Is the prompt shown, waiting for a line (no command running)? */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** Draws the prompt and waits for a line. */
  prompt(): void {
    this.#waiting = true;
    this.#draw(false);
  }

  /** A line was typed: what is said now belongs to the command it starts. */
  busy(): void {
    this.#waiting = false;
  }

  /** Prints `text` and a newline; while the prompt waits, above a prompt drawn again. */
  say(text: string): void {
    if (!this.#waiting) {
      this.output.write(`${text}\n`);
      return;
    }
    // On a terminal: clear the prompt line (and what was typed), print, draw both again.
    this.output.write(this.tty ? `\r\u001b[K${text}\n` : `\n${text}\n`);
    this.#draw(true);
  }

  #draw(keepTyped: boolean): void {
    if (this.tty) {
      this.tty.setPrompt(this.promptText());
      this.tty.prompt(keepTyped);
    } else this.output.write(this.promptText());
  }
}
