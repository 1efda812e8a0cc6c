import { readFile as fsReadFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SecretValue } from '../log/secret-value.js';
import { decryptSecretFile, type SecretFileEntry, SecretFileError } from './secret-file.js';
import {
  integrationOfSecretName,
  type SecretDescription,
  type SecretSource,
  SecretSourceError,
  type SecretVersion,
  STAGE,
} from './source.js';

export interface FileSourceOptions {
  /** OPSBOT_SECRET_FILE. */
  path: string;
  /** OPSBOT_SECRET_FILE_KEY, decoded: 32 bytes. */
  key: SecretValue<Buffer>;
  /** OPSBOT_SECRET_PREFIX: secret names are `<prefix><integration>`, as for Secrets Manager. */
  prefix?: string;
  /** The secrets opsbot knows (the catalog's names); any other name is not found. */
  names: readonly string[];
  /** Reads the whole file (tests inject failures). Defaults to fs.promises.readFile. */
  readFile?: (path: string, options: { signal?: AbortSignal }) => Promise<Buffer>;
}

/**
 * The local encrypted secrets file written by `npm run secrets` (see secret-file.ts). The file holds
 * a current and, after a rotation, a previous version per integration; they appear as AWSCURRENT
 * and AWSPREVIOUS. Every call re-reads and decrypts the file, so a rotation made with the CLI is
 * picked up at the provider's next poll.
 *
 * @example
 * const source = createFileSource({ path: '/etc/opsbot/secrets.enc', key, prefix: 'opsbot/' });
 * const { versions } = await source.describe('opsbot/slack');
 */
export function createFileSource(options: FileSourceOptions): SecretSource {
  const path = resolve(options.path);
  const prefix = options.prefix ?? 'opsbot/';
  const read = options.readFile ?? ((p, { signal }) => fsReadFile(p, signal ? { signal } : {}));

  async function load(name: string, signal: AbortSignal | undefined): Promise<SecretFileEntry> {
    const integration = integrationOf(name, prefix, options.names);
    let bytes: Buffer;
    try {
      if (signal?.aborted) throw signal.reason;
      bytes = await read(path, signal ? { signal } : {});
    } catch (error) {
      throw readError(name, integration, path, error);
    }
    let entry: SecretFileEntry | undefined;
    try {
      entry = decryptSecretFile(bytes, options.key.reveal()).secrets[integration];
    } catch (error) {
      throw decryptError(name, path, error);
    }
    if (!entry) {
      throw new SecretSourceError(
        'not_found',
        name,
        `${name}: the secrets file ${path} has no ${integration} secret; add it with ` +
          `\`npm run secrets -- set ${integration} < ${integration}.json\``,
      );
    }
    return entry;
  }

  return {
    kind: 'file',
    async describe(name, { signal } = {}): Promise<SecretDescription> {
      const entry = await load(name, signal);
      const versions = new Map<string, readonly string[]>([[entry.current.versionId, [STAGE.current]]]);
      if (entry.previous) versions.set(entry.previous.versionId, [STAGE.previous]);
      return { name, arn: arnOf(path, name), versions };
    },
    async getVersion(name, versionId, { signal } = {}): Promise<SecretVersion> {
      const entry = await load(name, signal);
      const found =
        entry.current.versionId === versionId
          ? { version: entry.current, stages: [STAGE.current] }
          : entry.previous?.versionId === versionId
            ? { version: entry.previous, stages: [STAGE.previous] }
            : undefined;
      if (!found) {
        throw new SecretSourceError(
          'not_found',
          name,
          `${name}: version ${versionId} is no longer in ${path} (only the current and previous versions are kept)`,
        );
      }
      return {
        name,
        arn: arnOf(path, name),
        versionId,
        stages: found.stages,
        secretString: found.version.value,
      };
    },
  };
}

function arnOf(path: string, name: string): string {
  return `file:${path}#${name}`;
}

function integrationOf(name: string, prefix: string, known: readonly string[]): string {
  const integration = integrationOfSecretName(name, prefix, known);
  if (!integration) {
    throw new SecretSourceError(
      'not_found',
      name,
      `${name}: the secrets file holds only ${known.map((i) => `${prefix}${i}`).join(', ')}`,
    );
  }
  return integration;
}

function readError(name: string, integration: string, path: string, error: unknown): SecretSourceError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new SecretSourceError(
      'not_found',
      name,
      `${name}: the secrets file ${path} does not exist; create it with ` +
        `\`npm run secrets -- set ${integration} < ${integration}.json\` (OPSBOT_SECRET_FILE and ` +
        'OPSBOT_SECRET_FILE_KEY set as for opsbot), or fix OPSBOT_SECRET_FILE',
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new SecretSourceError(
      'access_denied',
      name,
      `${name}: cannot read the secrets file ${path} (permission denied); make it readable by the user ` +
        'opsbot runs as (mode 0600, owned by that user)',
    );
  }
  if (code === 'EISDIR') {
    return new SecretSourceError(
      'invalid',
      name,
      `${name}: ${path} is a directory; OPSBOT_SECRET_FILE names a file`,
    );
  }
  const why = code ?? (error instanceof Error ? error.name : 'unknown error');
  return new SecretSourceError(
    'transient',
    name,
    `${name}: reading the secrets file ${path} failed (${why})`,
  );
}

function decryptError(name: string, path: string, error: unknown): SecretSourceError {
  if (error instanceof SecretFileError && error.kind === 'wrong_key_or_tampered') {
    return new SecretSourceError(
      'access_denied',
      name,
      `${name}: cannot decrypt ${path}: OPSBOT_SECRET_FILE_KEY is not the key it was written with, or the ` +
        'file was modified; use the key the file was created with, or re-create it with `npm run secrets -- set`',
    );
  }
  // SecretFileError messages never contain plaintext; anything else is reported by name only.
  const why =
    error instanceof SecretFileError ? error.message : `unexpected ${(error as Error)?.name ?? 'error'}`;
  return new SecretSourceError('invalid', name, `${name}: ${path}: ${why}`);
}
