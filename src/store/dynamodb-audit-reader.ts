import type { AuditBrief, AuditQuery, AuditRecord, ChainCheck, VerifyOptions } from '../audit/records.js';
import { readStoredRow, unreadableAsRecord } from '../audit/stored-record.js';
import { type ChainExpectation, ChainVerifier } from '../audit/verifier.js';
import type { AuditHead } from './dynamodb-audit-head.js';
import { newestRecord } from './dynamodb-audit-head.js';
import { AUDIT_PK, RECORD_PREFIX, toRow } from './dynamodb-audit-items.js';
import { type Item, type StateTable, sortable } from './dynamodb-table.js';
import type { AuditStoreWiring } from './state.js';

/** Records read per page when verifying; the walk yields to the event loop between pages and slices. */
const PAGE = 500;
const SLICE_MS = 8;
/** A filtered query reads at most this many records back from the newest (bounded cost and time). */
export const MAX_QUERY_SCAN = 10_000;

/** The query's filters as a FilterExpression's parts, with the names and values they use. */
function queryFilters(query: AuditQuery) {
  const filters: string[] = [];
  const names: Record<string, string> = { '#pk': 'pk', '#sk': 'sk' };
  const values: Record<string, unknown> = { ':pk': AUDIT_PK, ':rec': RECORD_PREFIX };
  if (query.actor) {
    filters.push('#actor = :actor');
    names['#actor'] = 'actor';
    values[':actor'] = query.actor;
  }
  if (query.command) {
    filters.push('(#action = :command OR begins_with(#action, :commandPrefix))');
    names['#action'] = 'action';
    values[':command'] = query.command;
    values[':commandPrefix'] = `${query.command}:`;
  }
  if (query.since) {
    filters.push('#at >= :since');
    names['#at'] = 'at';
    values[':since'] = query.since;
  }
  return { filters, names, values };
}

/**
 * Newest first, at most `query.limit` (1–200, default 50) records matching its filters, among the
 * {@link MAX_QUERY_SCAN} newest; a record that cannot be read comes back with `unreadable` set.
 */
export async function queryAudit(table: StateTable, query: AuditQuery): Promise<AuditRecord[]> {
  const asked = Number.isFinite(query.limit) ? Math.floor(query.limit as number) : 50;
  const limit = Math.min(Math.max(1, asked), 200);
  const { filters, names, values } = queryFilters(query);
  const rows: Item[] = [];
  let scanned = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.query({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :rec)',
      ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: false,
      Limit: filters.length ? PAGE : limit - rows.length,
      ExclusiveStartKey: start,
    });
    rows.push(...(page.Items ?? []));
    scanned += page.ScannedCount ?? 0;
    start = page.LastEvaluatedKey;
  } while (start && rows.length < limit && scanned < MAX_QUERY_SCAN);
  return rows.slice(0, limit).map((item) => {
    const read = readStoredRow(toRow(item));
    return 'unreadable' in read ? unreadableAsRecord(read) : read.record;
  });
}

/**
 * Walks the whole chain, oldest first, a page at a time, yielding to the event loop every
 * {@link SLICE_MS} ms, against the anchor given and the last record this process knows of.
 */
export async function verifyAudit(
  table: StateTable,
  head: AuditHead,
  wiring: AuditStoreWiring,
  options: VerifyOptions,
): Promise<ChainCheck> {
  await head.ensure();
  const verifier = chainVerifier(head, wiring, options);
  let start: Record<string, unknown> | undefined;
  let sliceStarted = performance.now();
  do {
    const page = await table.query({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :rec)',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': AUDIT_PK, ':rec': RECORD_PREFIX },
      Limit: PAGE,
      ExclusiveStartKey: start,
    });
    for (const item of page.Items ?? []) {
      const read = readStoredRow(toRow(item));
      const ok = 'unreadable' in read ? verifier.add(read) : verifier.add(read.record, read.mismatch);
      if (!ok) return verifier.result();
      if (performance.now() - sliceStarted > SLICE_MS) {
        // A long trail must not hold the event loop: yield, then carry on.
        await new Promise((resolve) => setImmediate(resolve));
        sliceStarted = performance.now();
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return verifier.result();
}

function chainVerifier(head: AuditHead, wiring: AuditStoreWiring, options: VerifyOptions): ChainVerifier {
  const keys = wiring.keys;
  const keyed = keys?.current() !== undefined; // also learns the provider's latest key
  const expect: ChainExpectation[] = [];
  if (options.anchor) expect.push({ anchor: options.anchor, source: 'the anchor you gave' });
  const known = head.known();
  if (known) expect.push({ anchor: known, source: 'the last record opsbot stored' });
  return new ChainVerifier({ ...(keys ? { keys } : {}), keyed, expect });
}

/** `readAfter` returns at most this many records per call. */
const MAX_READ_AFTER = 1_000;

/** The records after `afterSeq`, oldest first, at most `limit` (1–1,000): one Query, paged by DynamoDB's 1 MB. */
export async function readAuditAfter(
  table: StateTable,
  afterSeq: number,
  limit: number,
): Promise<AuditRecord[]> {
  const wanted = Math.min(Math.max(1, Math.floor(limit)), MAX_READ_AFTER);
  const rows: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await table.query({
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :after AND :end',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: {
        ':pk': AUDIT_PK,
        // BETWEEN is inclusive: start just past `afterSeq`'s key.
        ':after': `${RECORD_PREFIX}${sortable(Math.max(0, afterSeq + 1))}`,
        ':end': `${RECORD_PREFIX}\uffff`,
      },
      Limit: wanted - rows.length,
      ExclusiveStartKey: start,
    });
    rows.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start && rows.length < wanted);
  return rows.map((item) => {
    const read = readStoredRow(toRow(item));
    return 'unreadable' in read ? unreadableAsRecord(read) : read.record;
  });
}

/**
 * The briefs of the records after `afterSeq` (as {@link readAuditAfter}): the items are read whole
 * (a record is one attribute, and the network, not parsing, is the cost here) and cut down.
 */
export async function readAuditBriefsAfter(
  table: StateTable,
  afterSeq: number,
  limit: number,
): Promise<AuditBrief[]> {
  return (await readAuditAfter(table, afterSeq, limit)).map(
    ({ seq, at, actor, action, outcome, unreadable }) =>
      unreadable === undefined
        ? { seq, at, actor, action, outcome }
        : { seq, at, actor, action, outcome, unreadable },
  );
}

/**
 * The first seq whose record is at or after `iso`, by bisection over seq (one Query of one item per
 * step: about 20 for a million records; a number no record has counts as the next record's);
 * undefined when the newest record is older.
 */
export async function firstAuditSeqSince(table: StateTable, iso: string): Promise<number | undefined> {
  const newest = await newestRecord(table);
  if (!newest || newest.at < iso) return undefined;
  /** The first record at or after `seq`. */
  const from = async (seq: number): Promise<{ seq: number; at: string } | undefined> => {
    const [record] = await readAuditAfter(table, seq - 1, 1);
    return record && { seq: record.seq, at: record.at };
  };
  // `best` is a record at or after `iso`; every record before `low` is older; none after `high` but `best` is looked at.
  let best = newest.seq;
  let low = 1;
  let high = newest.seq - 1;
  while (low <= high) {
    const mid = Math.floor((low + high) / 2);
    const found = await from(mid);
    if (found && found.seq < best && found.at < iso) low = found.seq + 1;
    else {
      if (found && found.seq < best) best = found.seq;
      high = mid - 1;
    }
  }
  return best;
}
