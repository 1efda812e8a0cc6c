import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { ErrorCode, OpsbotError } from '../errors.js';
import { SecretValue } from '../log/secret-value.js';
import { SECRET_NAME } from './secret-spec.js';

/**
 * The local encrypted secrets file (`OPSBOT_SECRET_SOURCE=file`): one JSON envelope
 * `{ format, version, cipher, iv, tag, data }` whose `data` is the AES-256-GCM ciphertext of the
 * document below, with the header (`format`, `version`, `cipher`) bound as additional authenticated
 * data. A fresh 12-byte IV is drawn on every write. Decryption either returns a validated document or
 * throws a {@link SecretFileError}; it never returns garbage and never quotes the plaintext.
 */

const FORMAT = 'opsbot-secrets';
const VERSION = 1;
const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Far above four 64 KiB secrets with two versions each; anything larger is not our file. */
const MAX_FILE_BYTES = 2 * 1024 * 1024;
/** The plaintext is padded to a multiple of this, so the file size says little about the secrets. */
const PAD_BYTES = 512;

/** One stored version of an integration's secret. `value` is the JSON SecretString, wrapped. */
export interface SecretFileVersion {
  versionId: string;
  value: SecretValue<string>;
  /** ISO 8601. */
  createdAt: string;
}

export interface SecretFileEntry {
  current: SecretFileVersion;
  /** The version `current` replaced, kept so a rotation can be verified and rolled back. */
  previous?: SecretFileVersion;
}

export interface SecretFileDocument {
  /** By secret name (`slack`, `github`…). */
  secrets: Partial<Record<string, SecretFileEntry>>;
}

/**
 * Why a secrets file could not be read:
 * - `wrong_key_or_tampered`: authentication failed (the key is not the one it was written with, or
 *   any byte of the header, IV, tag or ciphertext was changed). GCM cannot tell the two apart.
 * - `malformed`: not an opsbot secrets file, or its decrypted document has the wrong shape.
 * - `unsupported_version`: an opsbot secrets file of a format version or cipher this build cannot read.
 */
export type SecretFileErrorKind = 'wrong_key_or_tampered' | 'malformed' | 'unsupported_version';

/** A secrets file could not be decrypted or validated. The message never contains plaintext. */
export class SecretFileError extends OpsbotError {
  readonly code = ErrorCode.SecretInvalid;
  readonly kind: SecretFileErrorKind;

  constructor(kind: SecretFileErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * A document with no secrets, the starting point of a new file.
 *
 * @example
 * const bytes = encryptSecretFile(setSecret(emptyDocument(), 'slack', value, new Date()), key);
 */
export function emptyDocument(): SecretFileDocument {
  return { secrets: {} };
}

/**
 * A copy of `doc` where `value` is the integration's new current version (a fresh uuid) and the old
 * current, if any, becomes `previous` (an older previous is dropped).
 *
 * @example
 * doc = setSecret(doc, 'github', new SecretValue(json), new Date());
 * doc.secrets.github?.current.versionId; // '3f2c…'
 */
export function setSecret(
  doc: SecretFileDocument,
  integration: string,
  value: SecretValue<string>,
  now: Date,
): SecretFileDocument {
  const old = doc.secrets[integration];
  const current: SecretFileVersion = { versionId: randomUUID(), value, createdAt: now.toISOString() };
  const entry: SecretFileEntry = old ? { current, previous: old.current } : { current };
  return { secrets: { ...doc.secrets, [integration]: entry } };
}

/**
 * A copy of `doc` without the integration's secret (current and previous).
 *
 * @example
 * doc = removeSecret(doc, 'jira'); // opsbot then reports jira as not configured
 */
export function removeSecret(doc: SecretFileDocument, integration: string): SecretFileDocument {
  const secrets = { ...doc.secrets };
  delete secrets[integration];
  return { secrets };
}

/**
 * Encrypts `doc` into the file's bytes with a 32-byte key and a fresh random IV.
 *
 * @example
 * await writeSecretFileAtomic(path, encryptSecretFile(doc, key.reveal()));
 */
export function encryptSecretFile(doc: SecretFileDocument, key: Buffer): Buffer {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(headerAad());
  const data = Buffer.concat([cipher.update(serialize(doc)), cipher.final()]);
  const envelope = {
    format: FORMAT,
    version: VERSION,
    cipher: CIPHER,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
  return Buffer.from(`${JSON.stringify(envelope)}\n`, 'utf8');
}

/**
 * Decrypts and validates the file's bytes. Throws {@link SecretFileError} on a wrong key, any
 * modification, an unknown format version or a malformed document.
 *
 * @example
 * const doc = decryptSecretFile(await readFile(path), key.reveal());
 * doc.secrets.slack?.current.value.reveal(); // the slack SecretString
 */
export function decryptSecretFile(bytes: Buffer, key: Buffer): SecretFileDocument {
  checkKey(key);
  const envelope = parseEnvelope(bytes);
  const decipher = createDecipheriv(CIPHER, key, envelope.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(headerAad());
  decipher.setAuthTag(envelope.tag);
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(envelope.data), decipher.final()]);
  } catch {
    throw new SecretFileError(
      'wrong_key_or_tampered',
      'the secrets file cannot be decrypted: the key is not the one it was written with, or the file was modified',
    );
  }
  return parseDocument(plaintext);
}

/**
 * Replaces the file at `path` with `bytes` atomically: a temporary file (mode 0600) in the same
 * directory is written, flushed to disk, then renamed over `path`. Readers see the old file or the
 * new one, never a partial write.
 *
 * @example
 * await writeSecretFileAtomic('/etc/opsbot/secrets.enc', encryptSecretFile(doc, key));
 */
export async function writeSecretFileAtomic(path: string, bytes: Buffer): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // whatever the umask
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Makes the rename durable; some platforms cannot open a directory, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) {
    throw new RangeError(`the secrets file key must be ${KEY_BYTES} bytes (openssl rand -base64 32)`);
  }
}

/** The header fields, serialised the same way on every write, authenticated with the ciphertext. */
function headerAad(): Buffer {
  return Buffer.from(JSON.stringify({ format: FORMAT, version: VERSION, cipher: CIPHER }), 'utf8');
}

function serialize(doc: SecretFileDocument): Buffer {
  const secrets: Record<string, unknown> = {};
  for (const integration of Object.keys(doc.secrets).sort()) {
    const entry = doc.secrets[integration];
    if (!entry) continue;
    secrets[integration] = {
      current: plainVersion(entry.current),
      ...(entry.previous ? { previous: plainVersion(entry.previous) } : {}),
    };
  }
  const json = JSON.stringify({ secrets });
  const padded = Math.ceil((Buffer.byteLength(json) + 1) / PAD_BYTES) * PAD_BYTES;
  return Buffer.from(json.padEnd(json.length + padded - Buffer.byteLength(json), ' '), 'utf8');
}

function plainVersion(version: SecretFileVersion) {
  return { versionId: version.versionId, value: version.value.reveal(), createdAt: version.createdAt };
}

/** Base64 as written by Buffer#toString('base64'), so a changed character can never decode the same. */
const canonicalBase64 = (bytes: number | undefined) =>
  z.string().transform((text, ctx) => {
    const decoded = Buffer.from(text, 'base64');
    if (decoded.toString('base64') !== text || (bytes !== undefined && decoded.length !== bytes)) {
      ctx.addIssue({ code: 'custom', message: `expected ${bytes ?? 'some'} bytes of base64` });
      return z.NEVER;
    }
    return decoded;
  });

const envelopeSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  cipher: z.literal(CIPHER),
  iv: canonicalBase64(IV_BYTES),
  tag: canonicalBase64(TAG_BYTES),
  data: canonicalBase64(undefined),
});

function parseEnvelope(bytes: Buffer): z.infer<typeof envelopeSchema> {
  const notOurs = 'is not an opsbot secrets file (expected the JSON envelope written by `npm run secrets`)';
  if (bytes.length > MAX_FILE_BYTES) throw new SecretFileError('malformed', `the file ${notOurs}: too large`);
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SecretFileError('malformed', `the file ${notOurs}: not JSON`);
  }
  if (typeof data !== 'object' || data === null || (data as { format?: unknown }).format !== FORMAT) {
    throw new SecretFileError('malformed', `the file ${notOurs}`);
  }
  const { version, cipher } = data as { version?: unknown; cipher?: unknown };
  if (typeof version === 'number' && version !== VERSION) {
    throw new SecretFileError(
      'unsupported_version',
      `the secrets file has format version ${version}; this opsbot reads version ${VERSION} (upgrade opsbot)`,
    );
  }
  if (typeof cipher === 'string' && cipher !== CIPHER) {
    throw new SecretFileError(
      'unsupported_version',
      `the secrets file uses cipher "${cipher.slice(0, 20)}"; this opsbot reads ${CIPHER} only`,
    );
  }
  const result = envelopeSchema.safeParse(data);
  if (!result.success) {
    throw new SecretFileError(
      'malformed',
      `the file ${notOurs}: ${describeIssues(result.error.issues, true)}`,
    );
  }
  return result.data;
}

const versionSchema = z.strictObject({
  versionId: z.uuid(),
  value: z
    .string()
    .max(65_536)
    .transform((text) => new SecretValue(text)),
  createdAt: z.iso.datetime({ offset: true }),
});
const entrySchema = z.strictObject({ current: versionSchema, previous: versionSchema.optional() });
const documentSchema = z.strictObject({
  // Names are checked before anything is reported by path: a key in the decrypted document is plaintext.
  secrets: z
    .record(z.string(), z.unknown())
    .refine((r) => Object.keys(r).length <= 50 && Object.keys(r).every((k) => SECRET_NAME.test(k)), {
      error: 'secret names must be short lowercase names (letters, digits, -), at most 50 of them',
      abort: true,
    })
    .pipe(z.record(z.string(), entrySchema)),
});

function parseDocument(plaintext: Buffer): SecretFileDocument {
  const broken = 'the secrets file decrypted, but its content is not a valid secrets document';
  let data: unknown;
  try {
    data = JSON.parse(plaintext.toString('utf8'));
  } catch {
    // Never Node's message: it quotes the plaintext around the syntax error.
    throw new SecretFileError('malformed', `${broken} (not JSON)`);
  }
  const result = documentSchema.safeParse(data);
  if (!result.success) {
    throw new SecretFileError('malformed', `${broken}: ${describeIssues(result.error.issues, false)}`);
  }
  const secrets: SecretFileDocument['secrets'] = {};
  for (const [integration, entry] of Object.entries(result.data.secrets)) {
    if (entry) secrets[integration] = entry;
  }
  return { secrets };
}

/**
 * Paths and zod's messages only; neither ever includes the input. Unknown keys are named only in
 * the envelope (`nameKeys`): inside the decrypted document even a key is plaintext.
 */
function describeIssues(issues: readonly z.core.$ZodIssue[], nameKeys: boolean): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const where = issue.path.map(String).join('.') || '(top level)';
      const what =
        issue.code !== 'unrecognized_keys'
          ? issue.message
          : nameKeys
            ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => k.slice(0, 20)).join(', ')}`
            : `${issue.keys.length} unknown key${issue.keys.length > 1 ? 's' : ''} (not shown)`;
      return `${where}: ${what}`;
    })
    .join('; ');
}
