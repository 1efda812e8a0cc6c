import { randomUUID } from 'node:crypto';
import { type ChainTail, EMPTY_TAIL } from '../audit/chain.js';
import type { AuditRecord } from '../audit/records.js';
import type { StoredRow } from '../audit/stored-record.js';
import { type Item, sortable } from './dynamodb-table.js';

/**
 * The audit trail's items on the state table (the key layout is in dynamodb.ts): one partition
 * `audit` holding the chain head, one item per record, and the readiness probe's item.
 */
export const AUDIT_PK = 'audit';
export const HEAD_KEY = { pk: AUDIT_PK, sk: 'head' };
export const PROBE_KEY = { pk: AUDIT_PK, sk: 'probe' };
/** The sort keys of records begin with this (then the seq, zero-padded: string order is seq order). */
export const RECORD_PREFIX = 'rec#';
const recordSk = (seq: number) => `${RECORD_PREFIX}${sortable(seq)}`;

/** The head item as a chain tail (the empty chain's when there is no head yet). */
export function toTail(item: Item | undefined): ChainTail {
  if (!item) return EMPTY_TAIL;
  return {
    seq: Number(item.seq),
    hash: String(item.hash),
    keyVersion: typeof item.keyVersion === 'string' ? item.keyVersion : undefined,
  };
}

/** A record item as the row src/audit/stored-record.ts reads (as SQLite stores it). */
export function toRow(item: Item): StoredRow {
  return {
    seq: Number(item.seq),
    at: String(item.at ?? ''),
    actor: String(item.actor ?? ''),
    action: String(item.action ?? ''),
    record: typeof item.record === 'string' ? item.record : '',
  };
}

/** A Put of a record's item, refused when an item already holds its seq. */
function recordPut(table: string, r: AuditRecord) {
  return {
    Put: {
      TableName: table,
      Item: {
        pk: AUDIT_PK,
        sk: recordSk(r.seq),
        seq: r.seq,
        at: r.at,
        actor: r.actor,
        action: r.action,
        record: JSON.stringify(r),
        hash: r.hash,
      },
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
    },
  };
}

/** An Update of the head to `last`, conditional on the head still being `base` (absent for seq 0). */
function headUpdate(table: string, base: ChainTail, last: AuditRecord) {
  return {
    Update: {
      TableName: table,
      Key: HEAD_KEY,
      UpdateExpression: `SET #seq = :seq, #hash = :hash${last.keyVersion ? ', #kv = :kv' : ' REMOVE #kv'}`,
      ConditionExpression:
        base.seq === 0 ? 'attribute_not_exists(#pk)' : '#seq = :base AND #hash = :baseHash',
      ExpressionAttributeNames: {
        '#seq': 'seq',
        '#hash': 'hash',
        '#kv': 'keyVersion',
        ...(base.seq === 0 ? { '#pk': 'pk' } : {}),
      },
      ExpressionAttributeValues: {
        ':seq': last.seq,
        ':hash': last.hash,
        ...(last.keyVersion ? { ':kv': last.keyVersion } : {}),
        ...(base.seq === 0 ? {} : { ':base': base.seq, ':baseHash': base.hash }),
      },
    },
  };
}

/** The transaction that stores `records` (at least one) after `base`, unless the head moved from `base`. */
export function appendTransaction(table: string, base: ChainTail, records: readonly AuditRecord[]) {
  const last = records.at(-1) as AuditRecord;
  return {
    ClientRequestToken: randomUUID(),
    TransactItems: [...records.map((r) => recordPut(table, r)), headUpdate(table, base, last)],
  };
}
