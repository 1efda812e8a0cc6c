import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../commands/index.js';
import { commandTable } from '../../../src/command-kit/usage.js';

const README = new URL('../../../README.md', import.meta.url);

describe('README.md "Use it"', () => {
  it('shows the command table generated from the registry (between the commands markers)', () => {
    const readme = readFileSync(README, 'utf8');
    const table = /\n<!-- commands:start -->\n([\s\S]*?)\n<!-- commands:end -->\n/.exec(readme)?.[1];
    // On a difference, paste the expected table from this diff between the markers.
    expect(table).toBe(commandTable(COMMANDS));
  });

  it('renders one row per subcommand: usage, summary, first example, with pipes escaped', () => {
    const table = commandTable(COMMANDS);
    const rows = table.split('\n');
    expect(rows.slice(0, 2)).toEqual(['| command | does | example |', '|---|---|---|']);
    expect(rows).toContain(
      '| `/gh pr list <owner/repo> [--author @login\\|me] [--state open\\|closed] [--limit N]` | pull requests, newest activity first (`--author me`: your login from `github.users`) | `/gh pr list acme/web --state open --limit 5` |',
    );
    expect(rows.some((r) => r.startsWith('| `/jira <KEY-1>` |'))).toBe(true);
    const count = COMMANDS.reduce((n, m) => n + m.subcommands.length, 0);
    expect(rows).toHaveLength(2 + count + 1); // + the /jira <KEY-1> row
  });
});
