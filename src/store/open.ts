import type { StateConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { openSqliteState } from './sqlite.js';
import type { State } from './state.js';

/** Opens the store `OPSBOT_STATE` names. */
export function openState(config: StateConfig, now: () => number = Date.now): State {
  if (config.kind === 'sqlite') {
    try {
      return openSqliteState({ path: config.path, now });
    } catch (error) {
      throw new ConfigError(
        [
          `OPSBOT_STATE: cannot open the SQLite file ${config.path} (${(error as Error).message}); check the path and its permissions`,
        ],
        { cause: error },
      );
    }
  }
  throw new ConfigError([
    `OPSBOT_STATE: dynamodb:${config.table} is not available in this version yet; use sqlite:PATH (the default) for now`,
  ]);
}
