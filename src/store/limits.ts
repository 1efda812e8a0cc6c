/**
 * What every State implementation accepts (the contract suite checks these limits), so that a
 * caller that works on SQLite also works on DynamoDB.
 */

import { MAX_SUMMARY_TITLE_CHARS, type NewOutboxItem } from './state.js';

/** Longest key (dedupe key, message key, outbox id, topic, owner, lease name), in characters. */
export const MAX_KEY_CHARS = 512;
/** Longest time-to-live, lease or claim: 30 days. */
export const MAX_DURATION_MS = 30 * 24 * 60 * 60 * 1000;
/** Expired rows a store deletes per purge, and how many of its writes pass between purges. */
export const PURGE_BATCH = 500;
export const PURGE_EVERY = 100;

/** Throws a RangeError unless `value` is a non-empty string of at most {@link MAX_KEY_CHARS}. */
export function checkKey(what: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_KEY_CHARS)
    throw new RangeError(`${what} must be a non-empty string of at most ${MAX_KEY_CHARS} characters`);
}

/** Throws a RangeError unless `ms` is a finite duration above 0 and at most 30 days. */
export function checkDuration(what: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_DURATION_MS)
    throw new RangeError(`${what} must be a number of milliseconds above 0 and at most ${MAX_DURATION_MS}`);
}

/** Throws a RangeError unless `value` is a string of at most `maxBytes` bytes in UTF-8. */
export function checkBytes(what: string, value: string, maxBytes: number): void {
  if (typeof value !== 'string' || Buffer.byteLength(value, 'utf8') > maxBytes)
    throw new RangeError(`${what} must be a string of at most ${maxBytes} bytes (UTF-8)`);
}

/** Throws a RangeError unless `ms` is a finite epoch-milliseconds time. */
export function checkTime(what: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new RangeError(`${what} must be a finite time in epoch milliseconds`);
}

/** Throws a RangeError unless a message ref has a channel and ts and at most `maxDataBytes` of string `data`. */
export function checkMessageRef(
  ref: { channel: string; ts: string; data?: string },
  maxDataBytes: number,
): void {
  if (typeof ref !== 'object' || ref === null) throw new RangeError('message ref must be an object');
  checkKey('message ref channel', ref.channel);
  checkKey('message ref ts', ref.ts);
  if (ref.data !== undefined) checkBytes('message ref data', ref.data, maxDataBytes);
}

/**
 * Throws a RangeError unless an outbox item to enqueue has an id, a topic, a bounded payload, a
 * valid time, and, if it has one, a summary with a group, a kind, a bounded title and a valid time.
 */
export function checkOutboxItem(item: NewOutboxItem, maxPayloadBytes: number): void {
  checkKey('outbox id', item.id);
  checkKey('outbox topic', item.topic);
  checkBytes('outbox payload', item.payload, maxPayloadBytes);
  if (item.availableAt !== undefined) checkTime('outbox availableAt', item.availableAt);
  if (item.done !== undefined && typeof item.done !== 'boolean')
    throw new RangeError('outbox done must be true or false');
  const summary = item.summary;
  if (summary === undefined) return;
  if (typeof summary !== 'object' || summary === null)
    throw new RangeError('outbox summary must be an object');
  checkKey('outbox summary group', summary.group);
  checkKey('outbox summary kind', summary.kind);
  if (typeof summary.title !== 'string' || summary.title.length > MAX_SUMMARY_TITLE_CHARS)
    throw new RangeError(
      `outbox summary title must be a string of at most ${MAX_SUMMARY_TITLE_CHARS} characters`,
    );
  checkTime('outbox summary at', summary.at);
}

/** Throws a RangeError unless `limit` is an integer from 1 to `max`. */
export function checkLimit(what: string, limit: number, max: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw new RangeError(`${what} must be an integer from 1 to ${max}`);
}

/** Throws a RangeError unless a claim names a topic and owner, a limit from 1 to `maxClaim` and a valid lease. */
/**
 * The arguments of a read of one topic's recent items (`recent`, `tally`; with `group`, `history`),
 * the same for every store.
 */
export function checkTopicQuery(
  what: 'recent' | 'tally' | 'history',
  topic: string,
  sinceMs: number,
  limit: number,
  group?: string,
): void {
  checkKey('outbox topic', topic);
  if (what === 'history') checkKey('outbox summary group', group as string);
  checkTime('outbox since', sinceMs);
  checkLimit(`outbox ${what} limit`, limit, what === 'history' ? MAX_HISTORY : MAX_RECENT);
}

export function checkClaim(
  topic: string,
  owner: string,
  limit: number,
  leaseMs: number,
  maxClaim: number,
): void {
  checkKey('outbox topic', topic);
  checkKey('outbox owner', owner);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxClaim)
    throw new RangeError(`outbox claim limit must be an integer from 1 to ${maxClaim}`);
  checkDuration('outbox leaseMs', leaseMs);
}

// What every implementation keeps to (SQLite and DynamoDB alike).

/** Largest payload, in bytes (UTF-8). */
export const MAX_OUTBOX_PAYLOAD_BYTES = 64 * 1024;
/** Most items one claim may take. */
export const MAX_CLAIM = 100;
/** Most items one `recent` may return. */
export const MAX_RECENT = 10_000;
/** Most items one `history` may return. */
export const MAX_HISTORY = 100;
/** Items a tally counts per synchronous step (one page), between turns of the event loop. */
export const TALLY_PAGE = 1_000;
/**
 * How long a done item is kept (30 days), so that enqueueing its id again is still refused. Older
 * done items are purged so the table does not grow with every item ever handled.
 */
export const DONE_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** Largest `data` kept with a message ref, in bytes (UTF-8). */
export const MAX_MESSAGE_DATA_BYTES = 32 * 1024;
