/**
 * Writer chains (README.md, "Audit trail"): on DynamoDB each process chains its own records, and
 * numbers them from one sequence every writer shares (reserved a batch at a time, so a writer that
 * dies between reserving and writing leaves numbers unused). A record `audit.chains` in one chain —
 * a cross-anchor — names where every other chain had got to (its last record's number and hash)
 * when it was written: a chain cut short after another one vouched for it is then caught, as a
 * record removed from the middle of any chain is caught by the link after it. Nothing here imports
 * anything: the chain, the verifier, the stores and the trail's readers share it.
 */

/**
 * A writer uses the numbers it reserved only this long after reserving them (then it reserves new
 * ones): a number still unused after {@link UNUSED_AFTER_MS} will never be used.
 */
export const RESERVATION_MS = 20_000;
/**
 * How long a reader following the trail waits at a number with no record before going past it:
 * longer than a reservation lives plus a write attempt (10 s), so it is never a record still on
 * its way.
 */
export const UNUSED_AFTER_MS = 60_000;

/** The action of a cross-anchor record. */
export const CHAINS_ANCHORED = 'audit.chains';

/** How an anchor names the single chain every writer shared before writer chains (records without `chain`). */
export const SHARED_CHAIN_NAME = 'shared';

/** Most chains one anchor names (the most recently written ones first). */
export const MAX_ANCHORED_CHAINS = 100;

/** A chain's last record as an anchor names it. */
export interface ChainHead {
  /** The chain's id, or {@link SHARED_CHAIN_NAME}. */
  chain: string;
  seq: number;
  hash: string;
}

const HEAD = /^([A-Za-z0-9_-]{1,64})@(\d{1,16})#([0-9a-f]{64})$/;

/** The `heads` detail of an anchor record: `chain@seq#hash`, comma-separated, in the order given. */
export function formatHeads(heads: readonly ChainHead[]): string {
  return heads
    .slice(0, MAX_ANCHORED_CHAINS)
    .map((h) => `${h.chain}@${h.seq}#${h.hash}`)
    .join(',');
}

/** The heads an anchor names; undefined when the text is not what {@link formatHeads} writes. */
export function parseHeads(text: unknown): ChainHead[] | undefined {
  if (typeof text !== 'string') return undefined;
  if (text === '') return [];
  const parts = text.split(',');
  if (parts.length > MAX_ANCHORED_CHAINS) return undefined;
  const heads: ChainHead[] = [];
  for (const part of parts) {
    const match = HEAD.exec(part);
    if (!match) return undefined;
    heads.push({ chain: match[1] as string, seq: Number(match[2]), hash: match[3] as string });
  }
  return heads;
}
