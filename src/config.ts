import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Env, EnvReader, nonEmpty, readSectionSettings } from './config/env-reader.js';
import { fileSchemaOf, type OpsbotFile } from './config/file-schema.js';
import { excerpt, type Parsed, parseEnum, parseHttpUrl, parseInteger } from './config/parsers.js';
import { envVariableFor } from './config/secret-variables.js';
import type { ConfigSection, EnvSettings } from './config/section.js';
import { defaultOf, variablesOf } from './config/variables.js';
import { readVaultSettings, type VaultSettings, vaultWarnings } from './config/vault-settings.js';
import { ConfigError } from './errors.js';
import { SecretValue } from './log/secret-value.js';
import { LOG_LEVELS } from './log.js';

export type { Env } from './config/env-reader.js';
export type { OpsbotFile } from './config/file-schema.js';
export type { ConfigSection } from './config/section.js';

export const SECRET_SOURCES = ['aws', 'vault', 'file', 'env'] as const;
export type SecretSourceKind = (typeof SECRET_SOURCES)[number];

export interface SecretsConfig {
  source: SecretSourceKind;
  prefix: string;
  pollSeconds: number;
  maxStaleSeconds: number;
  /**
   * How long the previous version still verifies inbound requests after a rotation (0–3600, default
   * 300). Optional for configurations built by hand; loadConfig always sets it.
   */
  previousGraceSeconds?: number;
  /** `file` source only. */
  file?: { path: string; key: SecretValue<Buffer> };
  /** `vault` source only. */
  vault?: VaultSettings;
}

export type StateConfig = { kind: 'sqlite'; path: string } | { kind: 'dynamodb'; table: string };

/**
 * The settings: the core's, and beside them those the registered integrations and features read
 * from their own environment variables ({@link EnvSettings}: `datadog.site`, `github.apiUrl`,
 * `devenv.reaperSeconds`…), each under its owner's key.
 */
export interface Config extends EnvSettings {
  secrets: SecretsConfig;
  slack: { mode: 'http' | 'socket'; apiUrl?: string };
  state: StateConfig;
  port: number;
  /** `OPSBOT_METRICS_PORT`: `/metrics` is served on this port only (not on `port`); unset, it stays on `port`. */
  metricsPort?: number;
  logLevel: (typeof LOG_LEVELS)[number];
  aws: { region?: string };
  configPath: string;
  file: OpsbotFile;
  /** Things worth a warning at start-up that do not stop it (e.g. an unknown OPSBOT_ variable). */
  warnings: string[];
}

export interface LoadConfigDeps {
  readFile?: (path: string) => string;
  /** The secrets opsbot knows (the registry's names): their `OPSBOT_SECRET_<NAME>` variables are settings. */
  secretNames?: readonly string[];
  /**
   * The configuration the registered integrations and features contribute: the file's sections
   * beyond `access`, and their environment variables (`CONFIG_SECTIONS` in src/features.ts for the
   * production build). Without them the file may hold `access` only, and only the core's variables
   * are read.
   */
  sections?: readonly ConfigSection[];
}

/** The core's settings: no section may be named after one. */
const CORE_KEYS: ReadonlySet<string> = new Set([
  'secrets',
  'slack',
  'state',
  'port',
  'metricsPort',
  'logLevel',
  'aws',
  'configPath',
  'file',
  'warnings',
]);

/**
 * Reads the settings README.md lists ("Configure it") from `env` and the YAML file named by `OPSBOT_CONFIG`.
 * Every problem is collected and thrown at once as a {@link ConfigError}, one line per problem,
 * naming the variable or YAML path and what is expected. Secret values are never echoed.
 *
 * The registered integrations and features contribute their sections of the file and their own
 * variables through `deps.sections`.
 *
 * @example
 * const config = loadConfig(process.env, { sections: CONFIG_SECTIONS }); // throws ConfigError listing every problem
 */
export function loadConfig(env: Env = process.env, deps: LoadConfigDeps = {}): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);
  const sections = deps.sections ?? [];
  // Every variable opsbot reads with these sections (two owners of one is a wiring mistake: thrown).
  const variables = variablesOf(sections);

  const source = read.parsed('OPSBOT_SECRET_SOURCE', defaultOf('OPSBOT_SECRET_SOURCE'), (t) =>
    parseEnum(t, SECRET_SOURCES),
  );
  const prefix = read.parsed('OPSBOT_SECRET_PREFIX', defaultOf('OPSBOT_SECRET_PREFIX'), parseSecretPrefix);
  const pollSeconds = read.parsed(
    'OPSBOT_SECRET_POLL_SECONDS',
    defaultOf('OPSBOT_SECRET_POLL_SECONDS'),
    (t) => parseInteger(t, { min: 5, max: 86_400 }),
  );
  const previousGraceSeconds = read.parsed(
    'OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS',
    defaultOf('OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS'),
    (t) => parseInteger(t, { min: 0, max: 3_600 }),
  );
  const maxStaleSeconds = read.parsed(
    'OPSBOT_SECRET_MAX_STALE_SECONDS',
    defaultOf('OPSBOT_SECRET_MAX_STALE_SECONDS'),
    (t) => parseInteger(t, { min: 0, max: 7 * 86_400 }),
  );
  const slackMode = read.parsed('OPSBOT_SLACK_MODE', defaultOf('OPSBOT_SLACK_MODE'), (t) =>
    parseEnum(t, ['http', 'socket'] as const),
  );
  const slackApiUrl = read.optional('OPSBOT_SLACK_API_URL', parseHttpUrl);
  const state = read.parsed('OPSBOT_STATE', defaultOf('OPSBOT_STATE'), parseState);
  const port = read.parsed('PORT', defaultOf('PORT'), (t) => parseInteger(t, { min: 1, max: 65_535 }));
  const metricsPort = read.optional('OPSBOT_METRICS_PORT', (t) => parseInteger(t, { min: 1, max: 65_535 }));
  if (metricsPort !== undefined && metricsPort === port) {
    problems.push(
      `OPSBOT_METRICS_PORT: must differ from PORT (${port}): /metrics moves to a port of its own`,
    );
  }
  const logLevel = read.parsed('LOG_LEVEL', defaultOf('LOG_LEVEL'), (t) => parseEnum(t, LOG_LEVELS));
  // The registered integrations' and features' own variables (`config.datadog.site`…).
  const contributed = readSectionSettings(read, sections, CORE_KEYS);
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  const configPath = nonEmpty(env.OPSBOT_CONFIG) ?? defaultOf('OPSBOT_CONFIG');

  let file: SecretsConfig['file'];
  if (source === 'file') {
    const path = nonEmpty(env.OPSBOT_SECRET_FILE);
    if (!path)
      problems.push(
        'OPSBOT_SECRET_FILE: required when OPSBOT_SECRET_SOURCE=file (path of the encrypted file)',
      );
    const key = readFileKey(env.OPSBOT_SECRET_FILE_KEY, problems);
    if (path && key) file = { path, key };
  }
  const vault =
    source === 'vault' ? readVaultSettings(read, env, problems, (text) => new SecretValue(text)) : undefined;
  if (source === 'env' && !nonEmpty(env.OPSBOT_SECRET_SLACK)) {
    problems.push('OPSBOT_SECRET_SLACK: required when OPSBOT_SECRET_SOURCE=env (the slack secret as JSON)');
  }
  if (source === 'aws' && !region) {
    problems.push(
      'AWS_REGION: required when OPSBOT_SECRET_SOURCE=aws (ECS sets it; elsewhere e.g. AWS_REGION=eu-west-1)',
    );
  } else if (state?.kind === 'dynamodb' && !region) {
    problems.push('AWS_REGION: required when OPSBOT_STATE=dynamodb:TABLE');
  }

  const fileSchema = fileSchemaOf(sections);
  const opsbotFile = readConfigFile(
    configPath,
    fileSchema,
    deps.readFile ?? ((p) => readFileSync(p, 'utf8')),
    problems,
  );

  if (problems.length > 0) throw new ConfigError(problems);

  // The variables read, and the secrets' own: any other OPSBOT_ is probably a typo.
  const known = new Set([...variables.map((v) => v.name), ...(deps.secretNames ?? []).map(envVariableFor)]);
  const warnings = Object.keys(env)
    .filter((name) => name.startsWith('OPSBOT_') && !known.has(name))
    .map((name) => `${name} is not an opsbot setting and is ignored (check the spelling against README.md)`);
  if (vault) warnings.push(...vaultWarnings(vault));

  return {
    ...(contributed as unknown as EnvSettings),
    secrets: {
      source: source as SecretSourceKind,
      prefix: prefix as string,
      pollSeconds: pollSeconds as number,
      maxStaleSeconds: maxStaleSeconds as number,
      previousGraceSeconds: previousGraceSeconds as number,
      ...(file ? { file } : {}),
      ...(vault ? { vault } : {}),
    },
    slack: { mode: slackMode as 'http' | 'socket', ...(slackApiUrl ? { apiUrl: slackApiUrl } : {}) },
    state: state as StateConfig,
    port: port as number,
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    logLevel: logLevel as Config['logLevel'],
    aws: region ? { region } : {},
    configPath,
    file: withSectionEnv(opsbotFile as OpsbotFile, sections, contributed),
    warnings,
  };
}

function parseSecretPrefix(text: string): Parsed<string> {
  return /^[A-Za-z0-9/_+=.@-]{0,400}$/.test(text)
    ? { ok: true, value: text }
    : { ok: false, expected: 'a Secrets Manager name prefix (letters, digits and /_+=.@-), such as opsbot/' };
}

function parseState(text: string): Parsed<StateConfig> {
  const sqlite = /^sqlite:(.+)$/.exec(text);
  if (sqlite?.[1]) return { ok: true, value: { kind: 'sqlite', path: sqlite[1] } };
  const dynamo = /^dynamodb:([A-Za-z0-9_.-]{3,255})$/.exec(text);
  if (dynamo?.[1]) return { ok: true, value: { kind: 'dynamodb', table: dynamo[1] } };
  return { ok: false, expected: 'sqlite:PATH or dynamodb:TABLE' };
}

/** The file source's key: base64 of exactly 32 bytes. Its value is never echoed. */
function readFileKey(raw: string | undefined, problems: string[]): SecretValue<Buffer> | undefined {
  const name = 'OPSBOT_SECRET_FILE_KEY';
  const text = nonEmpty(raw);
  if (!text) {
    problems.push(
      `${name}: required when OPSBOT_SECRET_SOURCE=file (base64 of 32 random bytes: openssl rand -base64 32)`,
    );
    return undefined;
  }
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (bytes.length !== 32) {
    problems.push(
      `${name}: expected base64 of exactly 32 bytes (openssl rand -base64 32); the value is not shown`,
    );
    return undefined;
  }
  return new SecretValue(bytes);
}

function readConfigFile(
  path: string,
  fileSchema: z.ZodType<OpsbotFile>,
  readFile: (path: string) => string,
  problems: string[],
): OpsbotFile | undefined {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (code ?? 'unreadable');
    problems.push(
      `OPSBOT_CONFIG: cannot read ${path} (${why}); create it (README.md, "Configuration file") or set OPSBOT_CONFIG to its path`,
    );
    return undefined;
  }
  if (text.length > 1_048_576) {
    problems.push(`${path}: larger than 1 MiB; is this the right file?`);
    return undefined;
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors.slice(0, 10)) {
      const pos = err.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}` : 'somewhere';
      problems.push(`${path}: ${where}: ${firstLine(err.message)}`);
    }
    return undefined;
  }
  const data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = fileSchema.safeParse(data);
  if (!result.success) {
    for (const issue of result.error.issues.slice(0, 50)) problems.push(`${path}: ${describeIssue(issue)}`);
    return undefined;
  }
  return result.data;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `${where ? `${where}: ` : ''}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${excerpt(k)}"`).join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    return `${where || '(top level)'}: expected ${issue.expected === 'object' ? 'a mapping' : issue.expected}`;
  }
  return `${where || '(top level)'}: ${issue.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/**
 * The file's sections as their owners' variables amend them (`devenv.roleArn` from
 * OPSBOT_DEVENV_ROLE_ARN): only for sections registered with a `withEnv`.
 */
function withSectionEnv(
  file: OpsbotFile,
  sections: readonly ConfigSection[],
  contributed: Record<string, Record<string, unknown>>,
): OpsbotFile {
  let amended: Record<string, unknown> = { ...file };
  for (const { key, withEnv } of sections) {
    if (withEnv && Object.hasOwn(amended, key) && Object.hasOwn(contributed, key))
      amended = { ...amended, [key]: withEnv(amended[key], contributed[key]) };
  }
  return amended as unknown as OpsbotFile;
}
