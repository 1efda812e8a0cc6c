import { isMap, isScalar, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Rule } from '../../access/policy.js';
import type { Removals } from './usage.js';

export type PruneResult = { ok: true; text: string } | { ok: false; problem: string };

/**
 * The configuration file with the unused grants taken out, through the `yaml` package's Document
 * API so that comments, order and the rest of the file survive. The file's `access.rules` must be
 * the rules opsbot runs with (`loaded`), else the removals would name other rules: then nothing is
 * proposed and `problem` says why.
 */
export function pruneFile(text: string, loaded: readonly Rule[], removals: Removals): PruneResult {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0)
    return {
      ok: false,
      problem: 'the configuration file no longer reads as YAML; fix it, then review again',
    };
  const rulesNode = doc.getIn(['access', 'rules'], true);
  const onDisk =
    (doc.toJS({ maxAliasCount: 100 }) as { access?: { rules?: unknown } } | null)?.access?.rules ?? [];
  if (canonical(onDisk) !== canonical(loaded))
    return {
      ok: false,
      problem:
        'the access rules in the configuration file differ from the ones opsbot runs with (edited since it started?); restart opsbot with the file, then review again',
    };
  if (loaded.length === 0) return { ok: true, text: render(doc) };
  if (!isSeq(rulesNode))
    return { ok: false, problem: 'access.rules is not a plain YAML list; edit it by hand' };
  const seq = rulesNode as YAMLSeq;
  for (const [index, users] of removals.users) {
    const problem = dropEntries(seq, index, 'users', users);
    if (problem) return { ok: false, problem };
  }
  for (const [index, groups] of removals.usergroups) {
    const problem = dropEntries(seq, index, 'usergroups', groups);
    if (problem) return { ok: false, problem };
  }
  for (const index of [...removals.rules].sort((x, y) => y - x)) seq.items.splice(index, 1);
  return { ok: true, text: render(doc) };
}

/** The document as text, as close to how people write the file as the library allows: `[a, b]`, no folding. */
function render(doc: ReturnType<typeof parseDocument>): string {
  return doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
}

function dropEntries(rules: YAMLSeq, index: number, key: 'users' | 'usergroups', drop: readonly string[]) {
  const rule = rules.items[index];
  if (!isMap(rule)) return `access.rules[${index}] is not a plain YAML map; edit it by hand`;
  const list = (rule as YAMLMap).get(key, true);
  if (!isSeq(list)) return `access.rules[${index}].${key} is not a plain YAML list; edit it by hand`;
  const gone = new Set(drop);
  list.items = list.items.filter((item) => !(isScalar(item) && gone.has(String(item.value))));
  // An emptied list would read as "names nobody": the rule still names whoever its other list names.
  if (list.items.length === 0) (rule as YAMLMap).delete(key);
  return undefined;
}

/** JSON with sorted keys: the rules as the loader read them, compared with the file's. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)),
        )
      : v,
  );
}
