import { type Clock, systemClock } from '../clock.js';
import type { StateConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import type { State } from './state.js';

/**
 * Opens the store `OPSBOT_STATE` names. DynamoDB: a client from the default credential chain and
 * region (AWS_ENDPOINT_URL_DYNAMODB is honoured by the SDK); the table is first used in the
 * background, and a missing one makes every operation fail with StateTableMissingError (and
 * /readyz answer 503) until it is created. Both run on `clock` (the app's): timestamps, leases,
 * deadlines and backoffs.
 */
export async function openState(config: StateConfig, clock: Clock = systemClock): Promise<State> {
  const now = () => clock.now();
  // Each backend is loaded only when chosen: a DynamoDB deployment never loads node:sqlite, and a
  // SQLite one never loads the DynamoDB SDK.
  if (config.kind === 'sqlite') {
    const { openSqliteState } = await import('./sqlite.js');
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
  const { openDynamoState } = await import('./dynamodb.js');
  return openDynamoState({ table: config.table, now, clock });
}
