/** One line of an edit script: kept, removed from the old text, or added in the new. */
type Edit = { op: ' ' | '-' | '+'; line: string; oldNo: number; newNo: number };

/** Beyond this many differing lines the diff is given as one hunk that replaces everything. */
const MAX_EDIT_DISTANCE = 5_000;

/**
 * A unified diff (`diff -u`, 3 lines of context) from `oldText` to `newText`, as `patch -p1` and
 * `git apply` read it; empty when they are equal. Lines are compared whole (Myers' algorithm).
 *
 * @example
 * unifiedDiff('a\nb\n', 'a\n', 'opsbot.yaml');
 * // '--- a/opsbot.yaml\n+++ b/opsbot.yaml\n@@ -1,2 +1 @@\n a\n-b\n'
 */
export function unifiedDiff(oldText: string, newText: string, name: string, context = 3): string {
  if (oldText === newText) return '';
  const a = linesOf(oldText);
  const b = linesOf(newText);
  const edits = editScript(a, b);
  const hunks = hunksOf(edits, context);
  const out = [`--- a/${name}`, `+++ b/${name}`];
  for (const hunk of hunks) {
    const olds = hunk.filter((e) => e.op !== '+');
    const news = hunk.filter((e) => e.op !== '-');
    const first = hunk[0] as Edit;
    const oldStart = olds.length > 0 ? (olds[0] as Edit).oldNo : first.oldNo - 1;
    const newStart = news.length > 0 ? (news[0] as Edit).newNo : first.newNo - 1;
    out.push(`@@ -${range(oldStart, olds.length)} +${range(newStart, news.length)} @@`);
    for (const e of hunk) out.push(`${e.op}${e.line}`);
  }
  return `${out.join('\n')}\n`;
}

function range(start: number, count: number): string {
  return count === 1 ? `${start}` : `${count === 0 ? start : start},${count}`;
}

function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Myers' O((N+M)D) shortest edit script, line numbers 1-based. */
function editScript(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number))
          ? (v[offset + k + 1] as number)
          : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
    v = next;
  }
  if (!found) return replaceAll(a, b);
  // Walk back through the trace from (n, m).
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d] as Int32Array;
    const k = x - y;
    const prevK =
      k === -d || (k !== d && (vd[offset + k - 1] as number) < (vd[offset + k + 1] as number))
        ? k + 1
        : k - 1;
    const prevX = d === 0 ? 0 : (vd[offset + prevK] as number);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      edits.push({ op: ' ', line: a[x - 1] as string, oldNo: x, newNo: y });
      x--;
      y--;
    }
    if (d === 0) break;
    if (x === prevX) edits.push({ op: '+', line: b[y - 1] as string, oldNo: x, newNo: y });
    else edits.push({ op: '-', line: a[x - 1] as string, oldNo: x, newNo: y });
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    edits.push({ op: ' ', line: a[x - 1] as string, oldNo: x, newNo: y });
    x--;
    y--;
  }
  return edits.reverse();
}

function replaceAll(a: readonly string[], b: readonly string[]): Edit[] {
  return [
    ...a.map((line, i): Edit => ({ op: '-', line, oldNo: i + 1, newNo: 0 })),
    ...b.map((line, i): Edit => ({ op: '+', line, oldNo: a.length, newNo: i + 1 })),
  ];
}

/** Changes with `context` unchanged lines around them; changes closer than 2×context share a hunk. */
function hunksOf(edits: readonly Edit[], context: number): Edit[][] {
  const changed = edits.map((e, i) => (e.op === ' ' ? -1 : i)).filter((i) => i >= 0);
  const hunks: Edit[][] = [];
  let start = -1;
  let end = -1;
  for (const i of changed) {
    if (start === -1) {
      start = Math.max(0, i - context);
      end = Math.min(edits.length - 1, i + context);
    } else if (i - context <= end + 1) {
      end = Math.min(edits.length - 1, i + context);
    } else {
      hunks.push(edits.slice(start, end + 1));
      start = Math.max(0, i - context);
      end = Math.min(edits.length - 1, i + context);
    }
  }
  if (start !== -1) hunks.push(edits.slice(start, end + 1));
  return hunks;
}
