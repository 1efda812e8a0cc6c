import { type ChainHead, MAX_ANCHORED_CHAINS } from '../audit/writer-chains.js';
import { AUDIT_PK, CHAIN_PREFIX, HEAD_KEY, toChainHead } from './dynamodb-audit-items.js';
import type { StateTable } from './dynamodb-table.js';

/** A chain whose last record is older than this is no longer named (anchors named its end while it was newer). */
const ANCHOR_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Pages of chain heads read at most (each up to 1 MB; a head is about 150 bytes). */
const MAX_PAGES = 5;

/**
 * The heads of the chains a cross-anchor names (src/audit/cross-anchor.ts): every writer chain
 * written within {@link ANCHOR_WINDOW_MS} but `own`, the most recently written first, and the
 * single chain's end when the trail had one; at most {@link MAX_ANCHORED_CHAINS}. One Query of the
 * range between `chain#` and `head` (the head items sort there and nothing else does).
 */
export async function readChainHeads(table: StateTable, own: string, now: number): Promise<ChainHead[]> {
  const since = new Date(now - ANCHOR_WINDOW_MS).toISOString();
  const heads: (ChainHead & { at: string })[] = [];
  let start: Record<string, unknown> | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const out = await table.query({
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': AUDIT_PK, ':from': CHAIN_PREFIX, ':to': HEAD_KEY.sk },
      ExclusiveStartKey: start,
    });
    for (const item of out.Items ?? []) {
      const head = toChainHead(item);
      if (!head || head.chain === own) continue;
      // The shared chain's head has no time: it is named while it exists.
      if (item.sk !== HEAD_KEY.sk && head.at < since) continue;
      heads.push(head);
    }
    start = out.LastEvaluatedKey;
    if (!start) break;
  }
  heads.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return heads.slice(0, MAX_ANCHORED_CHAINS).map(({ chain, seq, hash }) => ({ chain, seq, hash }));
}
