import type { z } from 'zod';
import type { EnvVariable } from './variables.js';

/**
 * The sections of the configuration file beyond `access`, by top-level key. Each owner (an
 * integration module, a feature) adds its own entry by declaration merging, so that
 * `config.file.github.users` is typed wherever it is read, while the file schema is built from the
 * sections actually registered ({@link ConfigSection}):
 *
 * @example
 * declare module '../config/section.js' {
 *   interface ConfigSections { github: GithubConfig }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by each section's owner (declaration merging)
export interface ConfigSections {}

export type ConfigSectionKey = keyof ConfigSections & string;

/**
 * The settings an owner reads from environment variables, by its key: `config.datadog.site`,
 * `config.github.apiUrl`. Filled in by declaration merging like {@link ConfigSections}; the loader
 * reads the variables of the sections actually registered (`env` of {@link ConfigSection}).
 *
 * @example
 * declare module '../config/section.js' {
 *   interface EnvSettings { github: { apiUrl?: string } }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by each section's owner (declaration merging)
export interface EnvSettings {}

export type EnvSettingsKey = keyof EnvSettings & string;

/**
 * One variable per field of an owner's settings: a field that is always there has a default (unset
 * reads as it); an optional one is left out while its variable is unset.
 */
export type EnvVariables<V> = {
  [F in keyof V]-?: undefined extends V[F]
    ? EnvVariable<Exclude<V[F], undefined>>
    : EnvVariable<V[F]> & { default: string };
};

/**
 * What an integration or a feature contributes to the configuration (`config?` of an integration or
 * a {@link Feature}), under its key: a top-level section of the file (`schema`), environment
 * variables (`env`), or both. When the file has no such section, the schema parses `default` (`{}`
 * unless given): a section whose schema refuses that is required whenever its owner is registered.
 */
export interface ConfigSection {
  key: string;
  /** Its section of the file; none: the file has no such key. */
  schema?: z.ZodType;
  /** What an absent section reads as (its input, parsed by the schema); `{}` unless given. */
  default?: unknown;
  /** Its environment variables by field: their values are `config[key]`. */
  env?: Readonly<Record<string, EnvVariable>>;
  /** Its file section as its variables amend it (a variable the CDK stack sets that wins over the file). */
  withEnv?: (file: unknown, env: unknown) => unknown;
}

type EnvOf<K extends string> = K extends EnvSettingsKey ? EnvVariables<EnvSettings[K]> : never;
type WithEnv<K extends ConfigSectionKey> = K extends EnvSettingsKey
  ? (file: ConfigSections[K], env: EnvSettings[K]) => ConfigSections[K]
  : never;

/**
 * Declares a configuration section whose value is the type its owner declared in
 * {@link ConfigSections} (so the schema and the type read everywhere cannot drift apart), with the
 * environment variables it reads, if any, typed by its entry in {@link EnvSettings}.
 *
 * @example
 * export const githubConfig = defineConfigSection('github', githubSchema, {
 *   env: { apiUrl: { name: 'OPSBOT_GITHUB_API_URL', deploy: 'operator', parse: parseHttpUrl } },
 * });
 */
export function defineConfigSection<const K extends ConfigSectionKey>(
  key: K,
  schema: z.ZodType<ConfigSections[K]>,
  options: { default?: unknown; env?: EnvOf<K>; withEnv?: WithEnv<K> } = {},
): ConfigSection {
  return {
    key,
    schema,
    ...('default' in options ? { default: options.default } : {}),
    ...(options.env ? { env: options.env as Record<string, EnvVariable> } : {}),
    ...(options.withEnv ? { withEnv: options.withEnv as ConfigSection['withEnv'] } : {}),
  };
}

/**
 * Declares the environment variables of an owner that has no section of the file (Datadog's site),
 * typed by its entry in {@link EnvSettings}.
 */
export function defineEnvSection<const K extends EnvSettingsKey>(
  key: K,
  env: EnvVariables<EnvSettings[K]>,
): ConfigSection {
  return { key, env: env as Record<string, EnvVariable> };
}

/**
 * The configuration sections that registered integrations and features contribute, in their order.
 * Features that share a section (the leak watch and the detections both read `security:`) name the
 * same object; it counts once. Two different objects under one key are still a wiring mistake.
 */
export function configSections(
  ...owners: ReadonlyArray<readonly { config?: ConfigSection }[]>
): ConfigSection[] {
  return [...new Set(owners.flat().flatMap((owner) => (owner.config ? [owner.config] : [])))];
}
