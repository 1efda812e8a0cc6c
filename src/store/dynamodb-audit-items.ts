import { type ChainTail, EMPTY_TAIL } from '../audit/chain.js';
import type { AuditRecord } from '../audit/records.js';
import type { StoredRow } from '../audit/stored-record.js';
import { type ChainHead, SHARED_CHAIN_NAME } from '../audit/writer-chains.js';
import { type Item, sortable, TTL_ATTRIBUTE, ttlSeconds } from './dynamodb-table.js';

/**
 * The audit trail's items on the state table (the key layout is in dynamodb.ts), all in one
 * partition `audit`: one item per record (`rec#<seq>`), the sequence every writer numbers its
 * records from (`seq`), each writer chain's head (`chain#<id>`), the head of the single chain
 * every replica shared before writer chains (`head`, read, never written now), and the readiness
 * probe's item.
 */
export const AUDIT_PK = 'audit';
export const HEAD_KEY = { pk: AUDIT_PK, sk: 'head' };
export const PROBE_KEY = { pk: AUDIT_PK, sk: 'probe' };
export const SEQ_KEY = { pk: AUDIT_PK, sk: 'seq' };
/** The sort keys of writer chains' heads begin with this (then the chain's id). */
export const CHAIN_PREFIX = 'chain#';
export const chainKey = (chain: string) => ({ pk: AUDIT_PK, sk: `${CHAIN_PREFIX}${chain}` });
/**
 * A writer chain's head item is forgotten this long after its last record (the records stay): by
 * then the cross-anchors of the chains still writing have named its end many times.
 */
const CHAIN_HEAD_TTL_MS = 30 * 24 * 60 * 60 * 1000;
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

/** A chain head item (or the shared chain's `head`) as an anchor names it; undefined for other items. */
export function toChainHead(item: Item): (ChainHead & { at: string }) | undefined {
  const sk = String(item.sk ?? '');
  const chain =
    sk === HEAD_KEY.sk
      ? SHARED_CHAIN_NAME
      : sk.startsWith(CHAIN_PREFIX)
        ? sk.slice(CHAIN_PREFIX.length)
        : undefined;
  const seq = Number(item.seq);
  if (chain === undefined || !(seq > 0) || typeof item.hash !== 'string') return undefined;
  return { chain, seq, hash: item.hash, at: typeof item.at === 'string' ? item.at : '' };
}

/** A record's item: the record as JSON, and copies of the fields queries and readers index on. */
export function recordItem(r: AuditRecord): Item {
  return {
    pk: AUDIT_PK,
    sk: recordSk(r.seq),
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    record: JSON.stringify(r),
    hash: r.hash,
  };
}

/** A Put of a record's item, refused when an item already holds its seq. */
function recordPut(table: string, r: AuditRecord) {
  return {
    Put: {
      TableName: table,
      Item: recordItem(r),
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
    },
  };
}

/**
 * An Update of writer chain `chain`'s head to `last`, conditional on it still being `base` (absent
 * for a chain with no record yet): only its own process writes it, so the condition fails only when
 * an earlier attempt of the same batch was stored after all.
 */
function chainHeadUpdate(table: string, chain: string, base: ChainTail, last: AuditRecord) {
  // From the record, not the clock: the same batch sent again is the same request.
  const now = Date.parse(last.at);
  return {
    Update: {
      TableName: table,
      Key: chainKey(chain),
      UpdateExpression: `SET #seq = :seq, #hash = :hash, #at = :at, #ttl = :ttl${last.keyVersion ? ', #kv = :kv' : ' REMOVE #kv'}`,
      ConditionExpression: base.seq === 0 ? 'attribute_not_exists(#pk)' : '#hash = :baseHash',
      ExpressionAttributeNames: {
        '#seq': 'seq',
        '#hash': 'hash',
        '#at': 'at',
        '#ttl': TTL_ATTRIBUTE,
        '#kv': 'keyVersion',
        ...(base.seq === 0 ? { '#pk': 'pk' } : {}),
      },
      ExpressionAttributeValues: {
        ':seq': last.seq,
        ':hash': last.hash,
        ':at': new Date(now).toISOString(),
        ':ttl': ttlSeconds(now + CHAIN_HEAD_TTL_MS),
        ...(last.keyVersion ? { ':kv': last.keyVersion } : {}),
        ...(base.seq === 0 ? {} : { ':baseHash': base.hash }),
      },
    },
  };
}

/**
 * The transaction that stores a writer chain's `records` (at least one, at the sequence numbers
 * reserved for them) after `base`. Its token is made of the batch's last hash, so sending the same
 * batch again (after a timeout) is idempotent at DynamoDB for ten minutes.
 */
export function chainTransaction(
  table: string,
  chain: string,
  base: ChainTail,
  records: readonly AuditRecord[],
) {
  const last = records.at(-1) as AuditRecord;
  return {
    ClientRequestToken: last.hash.slice(0, 36),
    TransactItems: [...records.map((r) => recordPut(table, r)), chainHeadUpdate(table, chain, base, last)],
  };
}
