import { closest } from '../text/suggest.js';

/** A slash command the workspace knows: opsbot's, as its manifest registers them. */
export interface KnownCommand {
  /** Without the slash: `gh`. */
  name: string;
  description: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * What Slack answers, at once and only to you, when a message starts with a slash no app in the
 * workspace registered: the command is not valid. Slack never sends it to any app, so the console
 * does not either. Adds the closest of opsbot's commands and the list of them. Undefined when
 * `typed` (`/gh`) is one of `commands`.
 */
export function unknownCommand(typed: string, commands: readonly KnownCommand[]): string | undefined {
  if (commands.some((c) => `/${c.name}` === typed)) return undefined;
  const shown = typed.replace(CONTROL, '').slice(0, 40) + (typed.length > 40 ? '…' : '');
  const guess =
    typed.length > 1
      ? closest(
          typed.slice(1),
          commands.map((c) => c.name),
        )
      : undefined;
  const width = Math.max(...commands.map((c) => c.name.length + 1)) + 3;
  return [
    `${shown} is not a valid command.${guess ? ` Did you mean /${guess}?` : ''}`,
    'opsbot’s commands:',
    ...commands.map((c) => `/${c.name}`.padEnd(width) + c.description),
  ].join('\n');
}
