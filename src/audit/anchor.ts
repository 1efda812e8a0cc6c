import type { Logger } from '../log.js';
import type { AuditAnchor } from './records.js';

/** `seq:hash` as an admin pastes it from the log: the full hash, or its first 16 or more hex digits. */
export const ANCHOR_TEXT = /^(\d{1,15}):([0-9a-fA-F]{16,64})$/;

/** Reads `12345:9f2c…`; undefined when it is not an anchor. */
export function parseAnchor(text: string): AuditAnchor | undefined {
  const match = ANCHOR_TEXT.exec(text.trim());
  if (!match) return undefined;
  const seq = Number(match[1]);
  return seq > 0 ? { seq, hash: (match[2] as string).toLowerCase() } : undefined;
}

export function formatAnchor(anchor: AuditAnchor): string {
  return `${anchor.seq}:${anchor.hash}`;
}

/**
 * Writes the head of the chain to the log as one JSON line, `{"auditAnchor":{"seq":N,"hash":"…"}}`:
 * the log lives outside the database, so a trail later cut short (or rewritten, when unkeyed) no
 * longer reaches the last anchor logged. `/opsbot audit --verify --anchor N:hash` checks it.
 */
export function logAnchor(log: Logger, head: AuditAnchor, when: 'start' | 'commit'): void {
  log.info(
    { auditAnchor: { seq: head.seq, hash: head.hash } },
    when === 'start' ? 'audit trail head at start-up (as read from the database)' : 'audit trail head',
  );
}
