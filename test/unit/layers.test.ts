import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, typescriptFiles } from '../helpers/source-tree.js';

/**
 * The layers (src/ARCHITECTURE.md, "Layers"): what may never import what. Each rule is checked on
 * every import of every production file (static `import … from`, `export … from` and `import()`),
 * relative imports resolved to the file they name, packages by name.
 */

const BASE = [
  'src/clock.ts',
  'src/errors.ts',
  'src/exit-codes.ts',
  'src/log.ts',
  'src/log/',
  'src/metrics.ts',
  'src/component.ts',
  'src/health.ts',
  'src/request-scope.ts',
  'src/own-value.ts',
  'src/node-version.ts',
  'src/quiet-warnings.ts',
  'src/time/',
  'src/text/',
  'src/replica-name.ts',
];
const SLACK = ['src/slack/', '@slack/'];
const FEATURES = [
  'src/alerts/',
  'src/approvals/',
  'src/devenv/',
  'src/leak-watch/',
  'src/secret-rotation/',
  'src/security/',
];

interface Rule {
  name: string;
  /** Files the rule applies to (path prefixes from the repository root). */
  from: string[];
  /** Imports they must not have (path prefixes, or package name prefixes). */
  never: string[];
  /** Or: the only imports they may have (path prefixes; packages are always allowed). */
  only?: string[];
}

const RULES: Rule[] = [
  { name: 'base imports nothing above it', from: BASE, never: [], only: BASE },
  {
    name: 'config imports no credentials',
    from: ['src/config.ts', 'src/config/'],
    never: ['src/credentials/'],
  },
  { name: 'credentials import no audit', from: ['src/credentials/'], never: ['src/audit/'] },
  {
    name: 'leak detection imports nothing but base',
    from: ['src/leaks/'],
    never: ['src/slack/', '@slack/', 'src/credentials/', 'src/store/', 'src/audit/'],
    only: [...BASE, 'src/leaks/'],
  },
  { name: 'access imports no Slack', from: ['src/access/'], never: SLACK },
  {
    name: 'access imports no command framework',
    from: ['src/access/'],
    never: ['src/command-kit/', 'commands/'],
  },
  { name: 'audit imports no Slack', from: ['src/audit/'], never: SLACK },
  { name: 'store imports no Slack', from: ['src/store/'], never: SLACK },
  {
    name: 'integrations import no Bolt',
    from: ['src/integrations/'],
    never: ['@slack/bolt', '@slack/socket-mode'],
  },
  {
    name: 'integrations import no transport',
    from: ['src/integrations/'],
    never: ['src/slack/', 'src/http/'],
  },
  {
    name: 'Slack imports no feature',
    from: ['src/slack/'],
    never: [...FEATURES, 'src/integrations/devenv.ts'],
  },
  { name: 'Slack imports no command', from: ['src/slack/'], never: ['commands/'] },
  { name: 'features import no command', from: FEATURES, never: ['commands/'] },
  {
    name: 'the command framework imports no Slack transport (Block Kit types only)',
    from: ['src/command-kit/'],
    never: ['src/slack/', '@slack/bolt', '@slack/socket-mode', 'commands/'],
  },
  {
    name: 'the rotation function imports no Slack transport, Bolt, app or sandbox',
    from: ['src/rotation/'],
    never: [
      'src/slack/',
      '@slack/bolt',
      '@slack/socket-mode',
      'src/http/',
      'src/app.ts',
      'src/wiring/',
      'src/sandbox/',
    ],
  },
  {
    name: 'the intake function imports no Slack transport, Bolt, app, sandbox or commands',
    from: ['src/intake/'],
    never: [
      'src/slack/',
      '@slack/bolt',
      '@slack/socket-mode',
      'src/app.ts',
      'src/wiring/',
      'src/sandbox/',
      'commands/',
    ],
  },
  {
    name: 'production imports no sandbox, console or tests',
    from: ['src/', 'commands/'],
    never: ['src/sandbox/', 'src/console/', 'src/console.ts', 'test/'],
  },
  {
    name: 'store imports no integration or feature',
    from: ['src/store/'],
    never: ['src/integrations/', ...FEATURES],
  },
  {
    name: 'the DynamoDB store imports no SQLite code (its own errors and limits)',
    from: ['src/store/dynamodb'],
    never: ['src/store/sqlite', 'node:sqlite'],
  },
];

/** Every module a file imports: a repository path for relative imports, else the package name. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gm),
    ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
    ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1] as string);
  return specs.map((spec) =>
    spec.startsWith('.')
      ? relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), spec)).replace(/\.js$/, '.ts')
      : spec,
  );
}

const matches = (path: string, prefixes: readonly string[]) =>
  prefixes.some((p) => path === p || path.startsWith(p));

const PRODUCTION = [...typescriptFiles('src'), ...typescriptFiles('commands')].filter(
  (f) => !matches(f, ['src/sandbox/', 'src/console/', 'src/console.ts']),
);

describe('the layers', () => {
  it('finds the production files and their imports', () => {
    expect(PRODUCTION.length).toBeGreaterThan(100);
    expect(importsOf('src/app.ts')).toContain('src/component.ts');
  });

  it('opening the store loads only the chosen backend (a DynamoDB deployment never loads node:sqlite)', () => {
    const text = readFileSync(join(REPO_ROOT, 'src/store/open.ts'), 'utf8');
    const statics = [...text.matchAll(/^\s*import\s[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]);
    expect(statics.filter((spec) => /sqlite|dynamodb/.test(spec ?? ''))).toEqual([]);
    expect(text).toContain("await import('./sqlite.js')");
    expect(text).toContain("await import('./dynamodb.js')");
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      const broken: string[] = [];
      for (const file of PRODUCTION.filter((f) => matches(f, rule.from))) {
        for (const target of importsOf(file)) {
          const relativeTarget =
            target.startsWith('src/') || target.startsWith('commands/') || target.startsWith('test/');
          const refused =
            matches(target, rule.never) ||
            (rule.only !== undefined && relativeTarget && !matches(target, rule.only));
          if (refused) broken.push(`${file} → ${target}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});
