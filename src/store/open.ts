import type { StateConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { openDynamoState } from './dynamodb.js';
import { openSqliteState } from './sqlite.js';
import type { State } from './state.js';

/**
 * Opens the store `OPSBOT_STATE` names. DynamoDB: a client from the default credential chain and
 * region (AWS_ENDPOINT_URL_DYNAMODB is honoured by the SDK); the table is first used in the
 * background, and a missing one makes every operation fail with StateTableMissingError (and
 * /readyz answer 503) until it is created.
 */
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
  return openDynamoState({ table: config.table, now });
}
