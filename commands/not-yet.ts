import { UserFacingError } from '../src/errors.js';
import type { Reply } from '../src/slack/command-spec.js';

/**
 * The handler of a subcommand whose grammar, help and policy action exist but whose integration
 * has not been built yet: it says so plainly instead of pretending.
 */
export function notAvailableYet(command: string, subcommand: string) {
  return async (): Promise<Reply> => {
    throw new UserFacingError(
      `\`/${command} ${subcommand}\` is not available in this version of opsbot yet. ` +
        '`/opsbot help` lists what works today.',
    );
  };
}
