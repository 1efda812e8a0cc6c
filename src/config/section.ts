import type { z } from 'zod';

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
 * One top-level section of the configuration file, contributed by the integration or feature that
 * reads it (`config?` of an integration or a {@link Feature}). When the file has no such section,
 * the schema parses `default` (`{}` unless given): a section whose schema refuses that is required
 * whenever its owner is registered.
 */
export interface ConfigSection {
  key: string;
  schema: z.ZodType;
  /** What an absent section reads as (its input, parsed by the schema); `{}` unless given. */
  default?: unknown;
}

/**
 * Declares a configuration section whose value is the type its owner declared in
 * {@link ConfigSections} (so the schema and the type read everywhere cannot drift apart).
 *
 * @example
 * export const githubConfig = defineConfigSection('github', githubSchema);
 */
export function defineConfigSection<const K extends ConfigSectionKey>(
  key: K,
  schema: z.ZodType<ConfigSections[K]>,
  options: { default?: unknown } = {},
): ConfigSection {
  return { key, schema, ...('default' in options ? { default: options.default } : {}) };
}

/** The configuration sections that registered integrations and features contribute, in their order. */
export function configSections(
  ...owners: ReadonlyArray<readonly { config?: ConfigSection }[]>
): ConfigSection[] {
  return owners.flat().flatMap((owner) => (owner.config ? [owner.config] : []));
}
