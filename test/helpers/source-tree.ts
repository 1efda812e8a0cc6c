import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository's root, for the tests that read its source tree. */
export const REPO_ROOT = resolve(new URL('../..', import.meta.url).pathname);

/** What is in `src/` but never in production: the simulated services and the console. */
export const NOT_PRODUCTION = ['src/sandbox/', 'src/console/', 'src/console.ts'];

/** Every TypeScript source file below `dir` (declaration files aside), as `dir/…/name.ts` paths. */
export function typescriptFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...typescriptFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Production sources (`src/` and `commands/`), minus the sandbox, the console and `alsoExcluded` (path prefixes). */
export function productionSources(alsoExcluded: readonly string[] = []): string[] {
  const excluded = [...NOT_PRODUCTION, ...alsoExcluded];
  return [...typescriptFiles('src'), ...typescriptFiles('commands')].filter(
    (file) => !excluded.some((prefix) => file === prefix || file.startsWith(prefix)),
  );
}

/** A repository file's text. */
export function readSource(file: string): string {
  return readFileSync(join(REPO_ROOT, file), 'utf8');
}
