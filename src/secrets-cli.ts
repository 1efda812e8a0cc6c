import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { auditSecret } from './audit/audit-secret.js';
import { excerpt } from './config/parsers.js';
import type { Env } from './config.js';
import {
  decryptSecretFile,
  emptyDocument,
  encryptSecretFile,
  removeSecret,
  type SecretFileDocument,
  SecretFileError,
  setSecret,
  writeSecretFileAtomic,
} from './credentials/secret-file.js';
import { parseSecret, type SecretSpec } from './credentials/secret-spec.js';
import { INTEGRATIONS } from './integrations/index.js';
import { IntegrationRegistry } from './integrations/registry.js';
import { SecretValue } from './log/secret-value.js';
import { nodeVersionProblem } from './node-version.js';

/** Where the CLI reads and writes; process.* in production, buffers in tests. */
export interface SecretsCliIo {
  env: Env;
  stdin: AsyncIterable<Buffer | string> & { isTTY?: boolean };
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Defaults to the wall clock. */
  now?: () => Date;
}

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** The secrets of the production build, with their shapes (the integration registry). */
const CATALOG = new IntegrationRegistry(INTEGRATIONS).catalog([auditSecret]);
const NAMES = [...CATALOG.keys()];

/** The largest value `set` reads: Secrets Manager's limit. */
const MAX_VALUE_BYTES = 65_536;

const USAGE = `usage: npm run secrets -- <command>

Manages the local encrypted secrets file (OPSBOT_SECRET_SOURCE=file). Needs OPSBOT_SECRET_FILE (its
path) and OPSBOT_SECRET_FILE_KEY (base64 of 32 random bytes: openssl rand -base64 32).

commands:
  set <integration>   store the JSON secret read from stdin as the new current version; the old one
                      is kept as the previous version (creates the file if absent)
  list                one line per integration: current version, when it was set, previous version
  rm <integration>    remove an integration's secret (current and previous)
  help                this text

integrations: ${NAMES.join(', ')}

example:
  npm run secrets -- set slack < slack.json
`;

class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/**
 * Runs `npm run secrets -- <argv…>` and returns the exit code: 0 done, 1 failed (wrong key, a
 * tampered or unreadable file), 2 usage or input errors. Never prints a secret value or the key.
 *
 * @example
 * const code = await runSecretsCli(['set', 'slack'], { env: process.env, stdin: process.stdin,
 *   stdout: process.stdout, stderr: process.stderr });
 */
export async function runSecretsCli(argv: readonly string[], io: SecretsCliIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(USAGE);
        return EXIT.ok;
      case 'set':
        return await set(integrationArg(command, args), io);
      case 'list':
        if (args.length > 0) throw usage(`list takes no arguments`);
        return await list(io);
      case 'rm':
        return await rm(integrationArg(command, args), io);
      default:
        throw usage(command === undefined ? 'no command given' : `unknown command "${excerpt(command)}"`);
    }
  } catch (error) {
    if (error instanceof CliFailure) {
      io.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    // Unexpected: name and errno code only; a message could in theory carry anything.
    const e = error as NodeJS.ErrnoException;
    io.stderr.write(`secrets: unexpected ${e?.name ?? 'error'}${e?.code ? ` (${e.code})` : ''}\n`);
    return EXIT.failure;
  }
}

function usage(problem: string): CliFailure {
  return new CliFailure(`secrets: ${problem}\n\n${USAGE}`, EXIT.usage);
}

function integrationArg(command: string, args: readonly string[]): string {
  if (args.length !== 1) throw usage(`${command} takes one integration (${NAMES.join(', ')})`);
  const integration = NAMES.find((i) => i === args[0]);
  if (!integration) throw usage(`unknown integration "${excerpt(args[0] ?? '')}"`);
  return integration;
}

async function set(integration: string, io: SecretsCliIo): Promise<number> {
  const file = fileSettings(io.env);
  if (io.stdin.isTTY) {
    io.stderr.write(`reading the ${integration} secret (JSON) from the terminal; end with Ctrl-D\n`);
  }
  const text = (await readBounded(io.stdin)).trim();
  if (text === '') {
    throw new CliFailure(
      `${integration}: nothing on stdin; pipe the JSON in: npm run secrets -- set ${integration} < ${integration}.json`,
      EXIT.usage,
    );
  }
  const parsed = parseSecret(CATALOG.get(integration) as SecretSpec, text);
  if (!parsed.ok) {
    const problems = parsed.problems.map((p) => `  - ${p}`).join('\n');
    throw new CliFailure(
      `${integration}: not stored: the value is not a valid ${integration} secret (README.md, "Secret shapes"):\n${problems}`,
      EXIT.usage,
    );
  }
  const doc = (await load(file)) ?? emptyDocument();
  const old = doc.secrets[integration];
  if (old && old.current.value.reveal() === text) {
    io.stdout.write(
      `${integration}: unchanged (version ${old.current.versionId} already holds this value)\n`,
    );
    return EXIT.ok;
  }
  const next = setSecret(doc, integration, new SecretValue(text), io.now?.() ?? new Date());
  await save(file, next);
  const stored = next.secrets[integration]?.current.versionId;
  const kept = old
    ? ` (previous version ${old.current.versionId} kept for verification during rotation)`
    : '';
  io.stdout.write(`${integration}: stored version ${stored} in ${file.path}${kept}\n`);
  return EXIT.ok;
}

async function list(io: SecretsCliIo): Promise<number> {
  const file = fileSettings(io.env);
  const doc = await load(file);
  if (!doc) {
    io.stderr.write(
      `${file.path} does not exist yet; create it with: npm run secrets -- set slack < slack.json\n`,
    );
    return EXIT.ok;
  }
  const width = Math.max(...NAMES.map((i) => i.length));
  for (const integration of NAMES) {
    const entry = doc.secrets[integration];
    const name = integration.padEnd(width);
    if (!entry) {
      io.stdout.write(`${name}  (not set)\n`);
      continue;
    }
    const previous = entry.previous ? `previous ${entry.previous.versionId}` : 'no previous';
    io.stdout.write(`${name}  ${entry.current.versionId}  ${entry.current.createdAt}  ${previous}\n`);
  }
  return EXIT.ok;
}

async function rm(integration: string, io: SecretsCliIo): Promise<number> {
  const file = fileSettings(io.env);
  const doc = await load(file);
  if (!doc?.secrets[integration]) {
    throw new CliFailure(`${integration}: not in ${file.path}; nothing to remove`, EXIT.failure);
  }
  await save(file, removeSecret(doc, integration));
  io.stdout.write(
    `${integration}: removed (current and previous versions); opsbot reports it as not configured after its next poll\n`,
  );
  return EXIT.ok;
}

interface FileSettings {
  path: string;
  key: SecretValue<Buffer>;
}

/** OPSBOT_SECRET_FILE and OPSBOT_SECRET_FILE_KEY, checked as src/config.ts does; the key is never echoed. */
function fileSettings(env: Env): FileSettings {
  const problems: string[] = [];
  const path = env.OPSBOT_SECRET_FILE?.trim();
  if (!path) problems.push('OPSBOT_SECRET_FILE: required (the path of the encrypted secrets file)');
  const keyText = env.OPSBOT_SECRET_FILE_KEY?.trim();
  let key: Buffer | undefined;
  if (!keyText) {
    problems.push('OPSBOT_SECRET_FILE_KEY: required (base64 of 32 random bytes: openssl rand -base64 32)');
  } else {
    key = /^[A-Za-z0-9+/]+={0,2}$/.test(keyText) ? Buffer.from(keyText, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) {
      problems.push(
        'OPSBOT_SECRET_FILE_KEY: expected base64 of exactly 32 bytes (openssl rand -base64 32); the value is not shown',
      );
    }
  }
  if (problems.length > 0 || !path || !key) {
    throw new CliFailure(`secrets: cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`, EXIT.usage);
  }
  return { path: resolve(path), key: new SecretValue(key) };
}

/** The decrypted file, or undefined when it does not exist yet. */
async function load(file: FileSettings): Promise<SecretFileDocument | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file.path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? 'unreadable');
    throw new CliFailure(`secrets: cannot read ${file.path} (${why})`, EXIT.failure);
  }
  try {
    return decryptSecretFile(bytes, file.key.reveal());
  } catch (error) {
    if (!(error instanceof SecretFileError)) throw error;
    const advice =
      error.kind === 'wrong_key_or_tampered'
        ? 'OPSBOT_SECRET_FILE_KEY is not the key this file was written with, or the file was modified'
        : error.message;
    throw new CliFailure(
      `secrets: cannot decrypt ${file.path}: ${advice}; nothing was changed`,
      EXIT.failure,
    );
  }
}

/** Encrypts and atomically replaces the file, creating its directory (mode 0700) if needed. */
async function save(file: FileSettings, doc: SecretFileDocument): Promise<void> {
  try {
    await mkdir(dirname(file.path), { recursive: true, mode: 0o700 });
    await writeSecretFileAtomic(file.path, encryptSecretFile(doc, file.key.reveal()));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? 'failed');
    throw new CliFailure(
      `secrets: cannot write ${file.path} (${why}); the file was not changed`,
      EXIT.failure,
    );
  }
}

/** Reads stdin up to {@link MAX_VALUE_BYTES}; more is refused rather than truncated. */
async function readBounded(stdin: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += bytes.length;
    if (size > MAX_VALUE_BYTES) {
      throw new CliFailure(
        'secrets: the value on stdin is larger than 64 KiB (Secrets Manager allows 64 KiB)',
        EXIT.usage,
      );
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The Node.js version first (README, "Try it"); nothing imported above needs Node 22 yet.
  const problem = nodeVersionProblem(process.versions.node);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exitCode = EXIT.usage;
  } else {
    runSecretsCli(process.argv.slice(2), {
      env: process.env,
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    }).then(
      (code) => {
        process.exitCode = code;
      },
      () => {
        process.stderr.write('secrets: unexpected failure\n');
        process.exitCode = EXIT.failure;
      },
    );
  }
}
