import type { RespondFn } from '@slack/bolt';
import type { Reply } from '../../command-kit/command-spec.js';
import type { Logger } from '../../log.js';
import { interactionOf, type Progress, responseUrlProgress } from '../interaction.js';

/** What answering needs of Bolt's arguments for a command or a button (both carry a response_url). */
export interface Answerable {
  respond?: RespondFn;
  context: Record<string, unknown>;
}

/** The interaction's progress over its response_url, made once per interaction. */
export function progressOf(args: Answerable, log: Logger): Progress {
  let progress = args.context.opsbotProgress as Progress | undefined;
  if (!progress) {
    progress = responseUrlProgress(args.respond, log);
    args.context.opsbotProgress = progress;
  }
  return progress;
}

/**
 * The final answer: the audit record is written first, then the answer goes out. A failed respond()
 * (expired response_url, Slack down) is logged; it must not hide the outcome.
 */
export async function answer(args: Answerable, message: Reply, log: Logger): Promise<void> {
  interactionOf(args.context).seal();
  try {
    await progressOf(args, log).finish(message);
  } catch (error) {
    log.warn({ err: error }, 'could not answer through the response_url');
  }
}
