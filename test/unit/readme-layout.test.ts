import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORM_HINT } from '../../src/console/session.js';

/**
 * README's "Layout" block against the tree: every entry of src/, commands/, infra/ and test/ is
 * named there, and every file or folder it names exists where it says. A new folder, a renamed
 * module or a description of a file that is gone fails here.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

function layoutBlock(): string[] {
  const start = README.indexOf('## Layout\n');
  expect(start, 'README.md has a "## Layout" section').toBeGreaterThan(-1);
  const open = README.indexOf('```\n', start);
  const close = README.indexOf('\n```', open + 4);
  return README.slice(open + 4, close).split('\n');
}

/** Top-level parts of the block (`src/`, `commands/`, …) with the names their lines mention. */
function parse(lines: string[]): Map<string, { entries: Set<string>; mentioned: Set<string> }> {
  const parts = new Map<string, { entries: Set<string>; mentioned: Set<string> }>();
  let current: { entries: Set<string>; mentioned: Set<string> } | undefined;
  for (const line of lines) {
    const top = /^([a-z]+\/)/.exec(line);
    if (top?.[1]) {
      current = { entries: new Set(), mentioned: new Set() };
      parts.set(top[1].slice(0, -1), current);
    }
    if (!current) continue;
    // The first column of an entry line (two spaces in) names the entries, comma-separated.
    const entry = /^ {2}(\S.*?)(?: {2,}|$)/.exec(line);
    if (entry?.[1] && !top)
      for (const name of entry[1].split(',')) current.entries.add(name.trim().replace(/\/$/, ''));
    for (const file of line.matchAll(/[\w.-]+\.(?:ts|yaml|json)\b/g)) current.mentioned.add(file[0]);
  }
  return parts;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out.push(name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
  }
  return out;
}

describe("README's Layout section", () => {
  const parts = parse(layoutBlock());

  it('names the four top-level source folders', () => {
    expect([...parts.keys()].sort()).toEqual(['commands', 'infra', 'src', 'test']);
  });

  it('names every entry of src/ on a line of its own', () => {
    const named = parts.get('src')?.entries ?? new Set();
    const missing = readdirSync(join(ROOT, 'src')).filter((name) => !named.has(name));
    expect(missing, "entries of src/ that README's Layout does not name").toEqual([]);
    const stale = [...named].filter((name) => !existsSync(join(ROOT, 'src', name)));
    expect(stale, "entries README's Layout names that src/ does not have").toEqual([]);
  });

  it('mentions every module of commands/ and every folder of test/', () => {
    const commands = readdirSync(join(ROOT, 'commands'));
    const mentioned = parts.get('commands')?.mentioned ?? new Set();
    expect(commands.filter((name) => !mentioned.has(name))).toEqual([]);
    const testBlock = layoutBlock().join('\n').slice(layoutBlock().join('\n').indexOf('\ntest/'));
    const folders = readdirSync(join(ROOT, 'test')).filter((name) =>
      statSync(join(ROOT, 'test', name)).isDirectory(),
    );
    expect(folders.filter((name) => !testBlock.includes(`${name}/`))).toEqual([]);
  });

  it('mentions only files that exist under the folder it describes', () => {
    for (const [top, { mentioned }] of parts) {
      const present = new Set(filesUnder(join(ROOT, top)));
      const gone = [...mentioned].filter((file) => !present.has(file));
      expect(gone, `files README's Layout mentions under ${top}/ that do not exist`).toEqual([]);
    }
  });
});

describe('the repository stands on its own', () => {
  // Spelled in pieces, so this file does not cite them either.
  const outside = new RegExp(
    ['CONTRACT', 'DESIGN']
      .map((n) => `${n}\\.md`)
      .concat(['\\.\\./shared/'])
      .join('|'),
  );

  it('README cites no document outside the repository', () => {
    expect(README).not.toMatch(outside);
  });

  it('no source, test, infra or tool file cites one either', () => {
    const files = ['src', 'commands', 'test', 'infra', '.ci']
      .flatMap((dir) => walk(join(ROOT, dir)))
      .concat([join(ROOT, '.biome.json'), join(ROOT, 'package.json')]);
    const citing = files.filter((file) => outside.test(readFileSync(file, 'utf8')));
    expect(citing.map((file) => file.slice(ROOT.length))).toEqual([]);
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'cdk.out' ? [] : walk(path);
    return /\.(ts|md|json|yaml|yml|sh)$|^run$/.test(name) ? [path] : [];
  });
}

describe("README's console transcript", () => {
  it('shows the hint the console prints under a form, word for word', () => {
    expect(README).toContain(FORM_HINT);
  });
});
