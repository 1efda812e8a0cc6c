/**
 * Run as a process of its own by test/integration/dynamodb-store-clock.test.ts: a store on one
 * table (`process.argv[2]` endpoint, a proxy that throttles its first audit write; `[3]` table), on
 * the system clock (whose timers never keep a process alive), so it waits out a backoff with
 * nothing else running. It prints `appended <seq>` once its record is stored: a wait that does not
 * keep the process alive lets it exit first, printing nothing.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { systemClock } from '../../src/clock.js';
import { openDynamoState } from '../../src/store/dynamodb.js';

const [endpoint, table] = process.argv.slice(2) as [string, string];
const state = openDynamoState({
  table,
  clock: systemClock,
  random: () => 0.99,
  client: new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  }),
});
await state.ready();
void state.audit
  .append({ action: 'gh:pr list', outcome: 'success', actor: 'U0A', details: {} })
  .then((record) => {
    process.stdout.write(`appended ${record.seq} after a throttled write\n`);
    state.close();
  });
