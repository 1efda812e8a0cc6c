import { UserFacingError } from '../errors.js';
import type { AuditStore } from '../store/state.js';
import { UNKEYED_ADOPTED } from './chain.js';
import type { AuditRecord, ChainCheck, RecordRange } from './records.js';

const span = (r: RecordRange) =>
  r.from === r.to ? `record #${r.from} is` : `records #${r.from}–#${r.to} are`;

/**
 * Adopts the records chained without a key before the audit key was set: checks the whole trail,
 * and when its only problem is those records, and `seq` is the last of them, appends one
 * `audit.unkeyed_adopted` record naming it and its hash, chained with the key (`actor` is the admin).
 * From then on `--verify` accepts them: the keyed records after them vouch for them. Anything else
 * is refused with a sentence saying what to pass or do instead.
 */
export async function adoptUnkeyed(
  audit: Pick<AuditStore, 'verify' | 'append'>,
  seq: number,
  actor: string,
): Promise<{ record: AuditRecord; adopted: RecordRange }> {
  const check = await audit.verify();
  const range = adoptable(check, seq);
  const record = await audit.append({
    action: UNKEYED_ADOPTED,
    outcome: 'success',
    actor,
    details: {
      lastUnkeyedSeq: range.to,
      headHash: (check.lastUnkeyed as { hash: string }).hash,
      records: range.count,
    },
  });
  return { record, adopted: range };
}

/** The unkeyed records `seq` may adopt, or the refusal (a sentence for Slack) saying why not. */
export function adoptable(check: ChainCheck, seq: number): RecordRange {
  if (!check.ok && check.unadopted && check.lastUnkeyed?.seq === check.unadopted.to) {
    const range = check.unadopted;
    if (seq !== range.to)
      throw new UserFacingError(
        `${span(range)} chained without a key: name the last of them, \`/opsbot audit --adopt-unkeyed ${range.to}\`.`,
      );
    return range;
  }
  if (!check.ok)
    throw new UserFacingError(
      `The audit trail is broken at record #${check.brokenAt} (\`/opsbot audit --verify\` says why): adopting unkeyed records would not mend that, so nothing was adopted.`,
    );
  if (check.adoptedAt !== undefined)
    throw new UserFacingError(
      `The records chained without a key were already adopted (record #${check.adoptedAt}); nothing to do.`,
    );
  if (check.unkeyed?.length)
    throw new UserFacingError(
      'opsbot chains without a key now (the `audit` secret is not loaded): set the `audit` secret first (README.md, "Audit trail"), then adopt the records written before it.',
    );
  throw new UserFacingError(
    'No record of the audit trail is chained without a key: there is nothing to adopt.',
  );
}
