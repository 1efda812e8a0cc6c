import { excerpt, type Parsed } from './parsers.js';
import type { ConfigSection } from './section.js';
import type { EnvVariable } from './variables.js';

export type Env = Record<string, string | undefined>;

/** A value with surrounding spaces trimmed; blank reads as unset. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Reads variables from `env`, adding one line per bad value to `problems` (naming the variable). */
export class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  /** A variable with a default; a set-but-invalid value is a problem (its excerpt is shown: not secret). */
  parsed<T>(name: string, fallback: string, parse: (text: string) => Parsed<T>): T | undefined {
    const raw = nonEmpty(this.env[name]);
    const result = parse(raw ?? fallback);
    if (result.ok) return result.value;
    const given = raw ?? fallback;
    // A value with `user:password@` in it is not echoed: the part before `@` may be a credential.
    const shown = given.includes('@') ? 'a value (not shown: it contains "@")' : `"${excerpt(given)}"`;
    this.problems.push(`${name}: expected ${result.expected}, got ${shown}`);
    return undefined;
  }

  optional<T>(name: string, parse: (text: string) => Parsed<T>): T | undefined {
    const raw = nonEmpty(this.env[name]);
    return raw === undefined ? undefined : this.parsed(name, raw, parse);
  }

  /** A contributed variable: with its default, else left out while unset. */
  variable<T>(variable: EnvVariable<T>): T | undefined {
    return variable.default !== undefined
      ? this.parsed(variable.name, variable.default, variable.parse)
      : this.optional(variable.name, variable.parse);
  }
}

/**
 * The settings the sections' variables hold, by section key (`{ datadog: { site: 'datadoghq.com' } }`):
 * a field whose variable is unset and has no default is left out; a bad value is a problem.
 *
 * @throws Error when a section is named after a core setting or two sections share a key (a wiring
 *   mistake, found at start-up).
 */
export function readSectionSettings(
  read: EnvReader,
  sections: readonly ConfigSection[],
  coreKeys: ReadonlySet<string>,
): Record<string, Record<string, unknown>> {
  const settings: Record<string, Record<string, unknown>> = {};
  for (const section of sections) {
    if (!section.env) continue;
    if (coreKeys.has(section.key))
      throw new Error(
        `the configuration section "${section.key}" is named after a core setting: name the section otherwise`,
      );
    if (Object.hasOwn(settings, section.key))
      throw new Error(
        `two configuration sections named "${section.key}" declare environment variables: each key has one owner`,
      );
    const values: Record<string, unknown> = {};
    for (const [field, variable] of Object.entries(section.env)) {
      const value = read.variable(variable);
      if (value !== undefined) values[field] = value;
    }
    settings[section.key] = values;
  }
  return settings;
}
