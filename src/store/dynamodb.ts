/**
 * The scale-out state store (`OPSBOT_STATE=dynamodb:TABLE`): every store on ONE table, shared by
 * every replica at once (README.md, "State: one process or several": `pk`/`sk` strings, on-demand, TTL
 * attribute `expiresAt` in epoch seconds).
 *
 * Key layout (`<x>` is a value as given; one too long for a key, or not well-formed Unicode, is
 * replaced by `~sha256#<hex>` of it, see `keyPart`; `<n:16>` is a zero-padded number):
 *
 * | pk                    | sk                       | item                                                        |
 * |-----------------------|--------------------------|-------------------------------------------------------------|
 * | `dedupe#<key>`        | `-`                      | a dedupe key: expiresAtMs                                   |
 * | `msg#<key>`           | `-`                      | a message ref: channel, ts, data?, version, expiresAtMs     |
 * | `lease#<name>`        | `-`                      | a lease: owner, expiresAtMs                                 |
 * | `outbox#<topic>`      | `<createdAt:16>#<id>`    | an outbox item not done: id, topic, payload, attempts,      |
 * |                       |                          |   createdAt, availableAt, rev, claimOwner?, claimExpiresAt? |
 * | `outbox-done#<topic>` | `<createdAt:16>#<id>`    | a done item (moved here by complete): the same, doneAt,     |
 * |                       |                          |   expiresAtMs = doneAt + 30 days                            |
 * | `outbox-id#<id>`      | `-`                      | id → topic, itemSk (enqueue is idempotent on it); done and  |
 * |                       |                          |   expiresAtMs once done                                     |
 * | `audit`               | `seq`                    | the audit counter: next (the last number reserved)          |
 * | `audit`               | `chain#<id>`             | a writer chain's head: seq, hash, keyVersion?, at, expiresAt|
 * | `audit`               | `head`                   | older tables only: where the single shared chain ended      |
 * | `audit`               | `rec#<seq:16>`           | an audit record: seq, at, actor, action, record (JSON), hash|
 * | `audit`               | `probe`                  | written by `audit.writable()` (readiness)                   |
 * | `signals`             | `-`                      | work signals: one number attribute per key, bumped by ADD   |
 *
 * Every item that expires carries `expiresAt` (epoch seconds, rounded up) for DynamoDB's TTL, and
 * `expiresAtMs`, which every read and condition checks against the injected `now()`: TTL deletes
 * late (up to days), so an expired item still in the table counts as absent. Claims and counts read
 * only `outbox#<topic>` (items not done), oldest first by sort key: no scan, and done items (30 days
 * of them) are never read there. Items enqueued in the same millisecond are ordered by id.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { systemClock } from '../clock.js';
import { abortable, deadlineSignal } from '../time/deadline.js';
import { createDynamoAudit, type DynamoAuditOptions, type DynamoAuditStore } from './dynamodb-audit.js';
import { SEQ_KEY } from './dynamodb-audit-items.js';
import { createDynamoDedupe } from './dynamodb-dedupe.js';
import { createDynamoLeases } from './dynamodb-leases.js';
import { createDynamoMessages } from './dynamodb-messages.js';
import { createDynamoOutbox } from './dynamodb-outbox.js';
import { createDynamoSignals } from './dynamodb-signals.js';
import { StateTable } from './dynamodb-table.js';
import type { State } from './state.js';

export { createStateTable, StateTableMissingError } from './dynamodb-table.js';

export interface DynamoStateOptions extends Partial<Omit<DynamoAuditOptions, 'now'>> {
  table: string;
  /**
   * The client to use; it stays yours (close() does not destroy it). Without one, the store builds
   * its own from the default credential chain and region (AWS_REGION; AWS_ENDPOINT_URL_DYNAMODB is
   * honoured by the SDK) and destroys it on close().
   */
  client?: DynamoDBClient;
  /** The time items are stamped and expire by (default: `clock`'s, else Date.now). */
  now?: () => number;
}

export interface DynamoState extends State {
  audit: DynamoAuditStore;
  /** Resolves once the audit trail's start is read: the table answers (rejects with StateTableMissingError if it is missing). */
  ready(): Promise<void>;
}

/** The SDK's retries cover throttling and 5xx; these bounds keep a call from hanging. */
const CLIENT_DEFAULTS = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
} as const;
const PING_MS = 1_000;

/**
 * Opens the State on DynamoDB table `table` (which must exist: the CDK app in infra/ creates it).
 * Nothing is read or written before this returns; the audit trail's newest record is read in the background (see
 * {@link DynamoState.ready}).
 *
 * @example
 * const state = openDynamoState({ table: 'opsbot-state' });
 * await state.ready(); // optional: fails fast with StateTableMissingError when the table is missing
 * await state.leases.acquire('alerts:C0ALERTS', 'replica-1', 30_000);
 */
export function openDynamoState(options: DynamoStateOptions): DynamoState {
  const client = options.client ?? new DynamoDBClient({ ...CLIENT_DEFAULTS });
  const clock = options.clock;
  const table = new StateTable(client, options.table, {
    ...(clock ? { clock } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.random ? { random: options.random } : {}),
  });
  const now = options.now ?? (clock ? () => clock.now() : Date.now);
  const audit = createDynamoAudit(table, {
    now,
    ...(clock ? { clock } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
  return {
    audit,
    dedupe: createDynamoDedupe(table, now),
    messages: createDynamoMessages(table, now),
    outbox: createDynamoOutbox(table, now),
    leases: createDynamoLeases(table, now),
    signals: createDynamoSignals(table),
    shared: true,
    ready: () => audit.ready(),
    /** One GetItem (of the audit sequence's item: present or not, the table answered), bounded to a second. */
    async ping() {
      const deadline = deadlineSignal(
        clock ?? systemClock,
        PING_MS,
        new AbortController().signal,
        () => new Error(`no answer within ${PING_MS} ms`),
      );
      try {
        await abortable(table.get(SEQ_KEY, { signal: deadline.signal }), deadline.signal);
        return true;
      } catch {
        return false;
      } finally {
        deadline.cancel();
      }
    },
    /** Audit events appended before are still written; then the table closes (and the client, if ours). */
    close() {
      void audit.close().finally(() => {
        table.close();
        if (!options.client) client.destroy();
      });
    },
  };
}
