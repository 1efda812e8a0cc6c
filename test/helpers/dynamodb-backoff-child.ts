/**
 * Run as a process of its own by test/integration/dynamodb-store-clock.test.ts: two stores on one
 * table (`process.argv[2]` endpoint, `[3]` table), on the system clock (whose timers never keep a
 * process alive); the second appends after the first moved the audit head, so it waits out a
 * backoff with nothing else running. It prints `appended <seq>` once its record is stored: a wait
 * that does not keep the process alive lets it exit first, printing nothing.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { systemClock } from '../../src/clock.js';
import { openDynamoState } from '../../src/store/dynamodb.js';

const [endpoint, table] = process.argv.slice(2) as [string, string];
const open = () =>
  openDynamoState({
    table,
    clock: systemClock,
    random: () => 0.99,
    client: new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
  });
const [loser, winner] = [open(), open()];
await Promise.all([loser.ready(), winner.ready()]);
await winner.audit.append({ action: 'gh:pr list', outcome: 'success', actor: 'U0W', details: {} });
void loser.audit
  .append({ action: 'gh:pr list', outcome: 'success', actor: 'U0L', details: {} })
  .then((record) => {
    process.stdout.write(`appended ${record.seq} after ${loser.audit.conflicts()} conflict(s)\n`);
    loser.close();
    winner.close();
  });
