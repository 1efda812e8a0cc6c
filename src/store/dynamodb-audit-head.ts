import { randomBytes } from 'node:crypto';
import { type ChainTail, EMPTY_TAIL } from '../audit/chain.js';
import type { AuditAnchor, AuditRecord } from '../audit/records.js';
import { AUDIT_PK, HEAD_KEY, RECORD_PREFIX, toTail } from './dynamodb-audit-items.js';
import type { StateTable } from './dynamodb-table.js';

/** What the trail looked like when this process started. */
interface TrailAtStart {
  /** The newest record then (undefined: the trail was empty). */
  newest: (AuditAnchor & { keyVersion?: string }) | undefined;
  /** Where the single chain every replica shared before writer chains ended (0: there is none). */
  sharedEnd: number;
}

/**
 * This process's view of the audit trail on DynamoDB: its own writer chain (a new one for each
 * process: an id no other process has, and its end, followed as batches are written), what the
 * trail held at start (read once, shared by concurrent callers, read again after a failure), and
 * the last record it knows of (read at start or written since), which `head()` returns and
 * `verify()` must reach.
 */
export class AuditHead {
  /** This process's writer chain. */
  readonly chain = randomBytes(6).toString('hex');
  readonly #table: StateTable;
  #tail: ChainTail = EMPTY_TAIL;
  #start: TrailAtStart | undefined;
  #loading: Promise<TrailAtStart> | undefined;
  #known: (AuditAnchor & { keyVersion?: string }) | undefined;

  constructor(table: StateTable) {
    this.#table = table;
  }

  /** Reads what the trail held at start, once (two strongly consistent reads). */
  ensure(): Promise<TrailAtStart> {
    if (this.#start) return Promise.resolve(this.#start);
    this.#loading ??= this.#read().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #read(): Promise<TrailAtStart> {
    const [newest, shared] = await Promise.all([newestRecord(this.#table), this.#table.get(HEAD_KEY)]);
    const start = { newest, sharedEnd: toTail(shared).seq };
    this.#start = start;
    if (newest && newest.seq > (this.#known?.seq ?? 0)) this.#known = newest;
    return start;
  }

  /** Where this process's chain ends: the next batch is chained after it. */
  tail(): ChainTail {
    return this.#tail;
  }

  /** `last` (of this chain) was stored. */
  advance(last: AuditRecord): void {
    this.#tail = { seq: last.seq, hash: last.hash, keyVersion: last.keyVersion };
    if (last.seq > (this.#known?.seq ?? 0))
      this.#known = {
        seq: last.seq,
        hash: last.hash,
        ...(last.keyVersion ? { keyVersion: last.keyVersion } : {}),
      };
  }

  /** The last record this process knows of, if any (a copy). */
  known(): (AuditAnchor & { keyVersion?: string }) | undefined {
    return this.#known && { ...this.#known };
  }
}

/** The newest record in the trail (one item read from the end of the records' range). */
export async function newestRecord(
  table: StateTable,
): Promise<(AuditAnchor & { keyVersion?: string; at: string }) | undefined> {
  const page = await table.query({
    KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :rec)',
    ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
    ExpressionAttributeValues: { ':pk': AUDIT_PK, ':rec': RECORD_PREFIX },
    ScanIndexForward: false,
    Limit: 1,
  });
  const item = page.Items?.[0];
  if (!item) return undefined;
  return {
    seq: Number(item.seq),
    hash: String(item.hash ?? ''),
    at: String(item.at ?? ''),
    ...(keyVersionOf(item.record) ? { keyVersion: keyVersionOf(item.record) as string } : {}),
  };
}

/** The key version in a record's JSON, without trusting it to parse. */
function keyVersionOf(json: unknown): string | undefined {
  if (typeof json !== 'string') return undefined;
  try {
    const version = (JSON.parse(json) as { keyVersion?: unknown }).keyVersion;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}
