import { formatAnchor } from './anchor.js';
import type { ChainCheck, RecordRange } from './records.js';

const plural = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const span = (r: RecordRange) => (r.from === r.to ? `#${r.from}` : `#${r.from}–#${r.to}`);

/**
 * What `/opsbot audit --verify` answers (Slack mrkdwn): intact, intact with caveats (records chained
 * without a key, or with a key version opsbot no longer has), or broken at a record and why.
 */
export function describeCheck(
  check: ChainCheck,
  options: { anchorGiven?: boolean; keyed?: boolean } = {},
): string {
  const lines: string[] = [];
  const head = check.head ? ` Its head is \`${formatAnchor(check.head)}\`.` : '';
  if (!check.ok && check.unadopted) {
    const r = check.unadopted;
    const them = r.from === r.to ? 'it' : 'them';
    lines.push(
      `:rotating_light: The audit trail is not vouched for: ${r.from === r.to ? `record #${r.from} is` : `records #${r.from}–#${r.to} are`} chained without a key (plain SHA-256) and no admin adopted ${them}, so whoever can write the database could have rewritten ${them} and recomputed every hash. The ${plural(check.checked - r.count, 'record')} after ${them} check out.`,
      `If ${r.from === r.to ? 'it was' : 'they were'} written before the \`audit\` secret was set and you trust ${them} (compare with the \`auditAnchor\` lines logged back then), run \`/opsbot audit --adopt-unkeyed ${r.to}\`; otherwise treat ${them} as tampered with.`,
    );
  } else if (!check.ok) {
    lines.push(
      `:rotating_light: The audit trail is broken at record #${check.brokenAt}: ${check.why}. ${plural(check.checked, 'record')} before it check out. Treat the trail from #${check.brokenAt} on as tampered with.`,
    );
  } else if (check.checked === 0) {
    lines.push(
      ":white_check_mark: The audit trail is empty (0 records). If opsbot has run here before, its records were deleted: verify against the last `auditAnchor` line in opsbot's log with `--anchor seq:hash`.",
    );
  } else if (check.unverifiable?.length) {
    const versions = check.unverifiable
      .map((r) => `key version \`${r.keyVersion}\` (${span(r)}, ${plural(r.count, 'record')})`)
      .join(', ');
    lines.push(
      `:warning: The audit trail links up (${plural(check.checked, 'record')}), but opsbot cannot verify records chained with ${versions}: that key is no longer available to it. Every other record checks out.${head}`,
    );
  } else {
    lines.push(
      `:white_check_mark: The audit trail is intact: ${plural(check.checked, 'record')}, every hash and link checks out.${head}`,
    );
  }
  if (check.ok && check.checked > 0) {
    const unkeyed = check.unkeyed ?? [];
    if (!options.keyed && unkeyed.length > 0)
      lines.push(
        ':warning: It is chained without a key (plain SHA-256): whoever can write the database could rewrite it and recompute every hash. Set the `audit` secret (README.md, "Audit trail").',
      );
    else if (unkeyed.length > 0)
      lines.push(
        `:information_source: Records ${unkeyed.map(span).join(', ')} were chained without a key, before the audit key was set; an admin adopted them${check.adoptedAt ? ` (record #${check.adoptedAt})` : ''}, and the keyed records after them vouch for them.`,
      );
    if (options.anchorGiven) lines.push('It reaches the anchor you gave, with the same hash there.');
    else
      lines.push(
        '_To also catch records deleted from the end before a restart, verify against the last `auditAnchor` line in the log: `/opsbot audit --verify --anchor seq:hash`._',
      );
  }
  return lines.join('\n');
}
