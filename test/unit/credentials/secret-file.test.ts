import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decryptSecretFile,
  emptyDocument,
  encryptSecretFile,
  removeSecret,
  type SecretFileDocument,
  SecretFileError,
  type SecretFileErrorKind,
  setSecret,
  writeSecretFileAtomic,
} from '../../../src/credentials/secret-file.js';
import { SecretValue } from '../../../src/log/secret-value.js';
import { assertNoCanary, canary } from '../../helpers/canary.js';

const NOW = new Date('2030-01-02T03:04:05.000Z');
const LATER = new Date('2030-02-02T03:04:05.000Z');

const slackJson = () => JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') });

function sampleDoc(): { doc: SecretFileDocument; values: string[] } {
  const first = slackJson();
  const second = slackJson();
  const github = JSON.stringify({ token: canary('github_pat') });
  let doc = setSecret(emptyDocument(), 'slack', new SecretValue(first), NOW);
  doc = setSecret(doc, 'slack', new SecretValue(second), LATER);
  doc = setSecret(doc, 'github', new SecretValue(github), NOW);
  return { doc, values: [first, second, github] };
}

/** The decrypt error, asserting it is a SecretFileError of `kind` that quotes nothing secret. */
function decryptError(bytes: Buffer, key: Buffer, secrets: string[] = []): SecretFileError {
  let caught: unknown;
  try {
    decryptSecretFile(bytes, key);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SecretFileError);
  assertNoCanary({ error: caught }, [...secrets, key.toString('base64')]);
  return caught as SecretFileError;
}

function expectKind(bytes: Buffer, key: Buffer, kind: SecretFileErrorKind, secrets: string[] = []): void {
  expect(decryptError(bytes, key, secrets).kind).toBe(kind);
}

type Envelope = Record<string, unknown> & { iv: string; tag: string; data: string };
const envelopeOf = (bytes: Buffer): Envelope => JSON.parse(bytes.toString('utf8'));
const bytesOf = (envelope: object): Buffer => Buffer.from(`${JSON.stringify(envelope)}\n`);

/** Encrypts arbitrary plaintext as a well-formed v1 file, to test what happens after decryption. */
function seal(plaintext: string, key: Buffer, aad: Buffer | null = headerAad()): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (aad) cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return bytesOf({
    format: 'opsbot-secrets',
    version: 1,
    cipher: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  });
}

function headerAad(): Buffer {
  return Buffer.from(JSON.stringify({ format: 'opsbot-secrets', version: 1, cipher: 'aes-256-gcm' }));
}

describe('encryptSecretFile / decryptSecretFile', () => {
  it('round-trips every version, id and timestamp', () => {
    const key = randomBytes(32);
    const { doc, values } = sampleDoc();
    const bytes = encryptSecretFile(doc, key);
    assertNoCanary({ file: bytes.toString('utf8') }, values);

    const back = decryptSecretFile(bytes, key);
    expect(back.secrets.slack?.current.value.reveal()).toBe(values[1]);
    expect(back.secrets.slack?.previous?.value.reveal()).toBe(values[0]);
    expect(back.secrets.github?.current.value.reveal()).toBe(values[2]);
    expect(back.secrets.github?.previous).toBeUndefined();
    expect(back.secrets.slack?.current.versionId).toBe(doc.secrets.slack?.current.versionId);
    expect(back.secrets.slack?.current.createdAt).toBe(LATER.toISOString());
    expect(back.secrets.jira).toBeUndefined();
    expect(decryptSecretFile(encryptSecretFile(emptyDocument(), key), key)).toEqual(emptyDocument());
  });

  it('writes the documented envelope, with a fresh IV on every write', () => {
    const key = randomBytes(32);
    const { doc } = sampleDoc();
    const a = envelopeOf(encryptSecretFile(doc, key));
    const b = envelopeOf(encryptSecretFile(doc, key));
    expect(Object.keys(a)).toEqual(['format', 'version', 'cipher', 'iv', 'tag', 'data']);
    expect(a).toMatchObject({ format: 'opsbot-secrets', version: 1, cipher: 'aes-256-gcm' });
    expect(Buffer.from(a.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(a.tag, 'base64')).toHaveLength(16);
    expect(a.iv).not.toBe(b.iv);
    expect(a.data).not.toBe(b.data);
    const ivs = new Set(Array.from({ length: 50 }, () => envelopeOf(encryptSecretFile(doc, key)).iv));
    expect(ivs.size).toBe(50);
  });

  it('pads the plaintext so the file size does not give away the length of a secret', () => {
    const key = randomBytes(32);
    const short = setSecret(emptyDocument(), 'jira', new SecretValue('{"apiToken":"abcdef"}'), NOW);
    const long = setSecret(emptyDocument(), 'jira', new SecretValue('{"apiToken":"abcdefghijklmnop"}'), NOW);
    expect(encryptSecretFile(short, key).length).toBe(encryptSecretFile(long, key).length);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => encryptSecretFile(emptyDocument(), randomBytes(16))).toThrow(RangeError);
    expect(() =>
      decryptSecretFile(encryptSecretFile(emptyDocument(), randomBytes(32)), randomBytes(31)),
    ).toThrow(/32 bytes/);
  });

  it('reports a wrong key as wrong_key_or_tampered, never as garbage', () => {
    const { doc, values } = sampleDoc();
    const bytes = encryptSecretFile(doc, randomBytes(32));
    const error = decryptError(bytes, randomBytes(32), values);
    expect(error.kind).toBe('wrong_key_or_tampered');
    expect(error.message).toMatch(/key is not the one it was written with, or the file was modified/);
  });

  it('detects any flipped bit in iv, tag or data (property)', () => {
    const key = randomBytes(32);
    const { doc, values } = sampleDoc();
    const envelope = envelopeOf(encryptSecretFile(doc, key));
    fc.assert(
      fc.property(
        fc.constantFrom('iv', 'tag', 'data'),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (field: 'iv' | 'tag' | 'data', index, bit) => {
          const bytes = Buffer.from(envelope[field], 'base64');
          const at = index % bytes.length;
          bytes[at] = (bytes[at] ?? 0) ^ (1 << bit);
          expectKind(
            bytesOf({ ...envelope, [field]: bytes.toString('base64') }),
            key,
            'wrong_key_or_tampered',
            values,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never returns a document when any single bit of the file is flipped (exhaustive)', () => {
    const key = randomBytes(32);
    const { doc, values } = sampleDoc();
    const file = encryptSecretFile(doc, key);
    const kinds = new Set<string>();
    for (let at = 0; at < file.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const bytes = Buffer.from(file);
        bytes[at] = (bytes[at] ?? 0) ^ (1 << bit);
        let caught: unknown;
        try {
          decryptSecretFile(bytes, key);
        } catch (error) {
          caught = error;
        }
        if (!(caught instanceof SecretFileError))
          expect.fail(`bit ${bit} of byte ${at} flipped went unnoticed`);
        kinds.add(caught.kind);
        if (caught.message.includes('test-canary')) expect.fail('an error quoted the plaintext');
      }
    }
    expect([...kinds].sort()).toEqual(['malformed', 'unsupported_version', 'wrong_key_or_tampered']);
    assertNoCanary({ file }, values);
  });

  it('binds the header: version, cipher and format changes are refused', () => {
    const key = randomBytes(32);
    const envelope = envelopeOf(encryptSecretFile(sampleDoc().doc, key));
    expectKind(bytesOf({ ...envelope, version: 2 }), key, 'unsupported_version');
    expectKind(bytesOf({ ...envelope, cipher: 'aes-128-gcm' }), key, 'unsupported_version');
    expectKind(bytesOf({ ...envelope, format: 'other' }), key, 'malformed');
    expectKind(bytesOf({ ...envelope, version: '1' }), key, 'malformed');
    expectKind(bytesOf({ ...envelope, extra: true }), key, 'malformed');
    const { version: _, ...withoutVersion } = envelope;
    expectKind(bytesOf(withoutVersion), key, 'malformed');
  });

  it('authenticates the header as AAD: a ciphertext sealed without it does not decrypt', () => {
    const key = randomBytes(32);
    const plaintext = JSON.stringify({ secrets: {} });
    expect(decryptSecretFile(seal(plaintext, key), key)).toEqual(emptyDocument());
    expectKind(seal(plaintext, key, null), key, 'wrong_key_or_tampered');
    const otherHeader = Buffer.from(
      JSON.stringify({ format: 'opsbot-secrets', version: 2, cipher: 'aes-256-gcm' }),
    );
    expectKind(seal(plaintext, key, otherHeader), key, 'wrong_key_or_tampered');
  });

  it('refuses truncated tags, wrong IV lengths and non-canonical base64 as malformed', () => {
    const key = randomBytes(32);
    const envelope = envelopeOf(encryptSecretFile(sampleDoc().doc, key));
    const tag = Buffer.from(envelope.tag, 'base64');
    expectKind(bytesOf({ ...envelope, tag: tag.subarray(0, 8).toString('base64') }), key, 'malformed');
    expectKind(bytesOf({ ...envelope, iv: randomBytes(16).toString('base64') }), key, 'malformed');
    expectKind(bytesOf({ ...envelope, data: `${envelope.data}!` }), key, 'malformed');
    expectKind(
      bytesOf({ ...envelope, iv: envelope.iv.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }),
      key,
      'wrong_key_or_tampered',
    );
  });

  it('refuses files that are not an opsbot secrets file as malformed', () => {
    const key = randomBytes(32);
    expectKind(Buffer.from('not json at all'), key, 'malformed');
    expectKind(Buffer.from('[]'), key, 'malformed');
    expectKind(Buffer.from('{"botToken":"xoxb-…"}'), key, 'malformed');
    expectKind(Buffer.alloc(3 * 1024 * 1024, 32), key, 'malformed');
  });

  it('reports a decrypted document of the wrong shape as malformed, without quoting it', () => {
    const key = randomBytes(32);
    const secret = canary('xoxb');
    const version = {
      versionId: '3f2c3d1e-5b6a-4c7d-8e9f-0a1b2c3d4e5f',
      value: secret,
      createdAt: NOW.toISOString(),
    };
    const cases: unknown[] = [
      `{"secrets": {"slack": ${secret}`,
      secret,
      [secret],
      { secrets: { slack: { current: { ...version, versionId: secret } } } },
      { secrets: { slack: { current: { ...version, createdAt: secret } } } },
      { secrets: { slack: { current: { ...version, value: { botToken: secret } } } } },
      { secrets: { slack: { previous: version } } },
      { secrets: { [secret]: { current: version } } },
      { secrets: { slack: { current: { ...version, [secret]: 1 } } } },
      { secrets: {}, [secret]: true },
    ];
    for (const plaintext of cases) {
      const text = typeof plaintext === 'string' ? plaintext : JSON.stringify(plaintext);
      const error = decryptError(seal(text, key), key, [secret]);
      expect(error.kind).toBe('malformed');
      expect(error.message).toMatch(
        /^the secrets file decrypted, but its content is not a valid secrets document/,
      );
    }
  });
});

describe('setSecret / removeSecret', () => {
  it('makes a new uuid version current and keeps exactly one previous', () => {
    const [a, b, c] = [slackJson(), slackJson(), slackJson()].map((v) => new SecretValue(v));
    const empty = emptyDocument();
    const one = setSecret(empty, 'slack', a as SecretValue<string>, NOW);
    expect(empty).toEqual({ secrets: {} });
    expect(one.secrets.slack?.current.versionId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(one.secrets.slack?.current.createdAt).toBe(NOW.toISOString());
    expect(one.secrets.slack?.previous).toBeUndefined();

    const two = setSecret(one, 'slack', b as SecretValue<string>, LATER);
    expect(two.secrets.slack?.previous).toEqual(one.secrets.slack?.current);
    expect(two.secrets.slack?.current.versionId).not.toBe(one.secrets.slack?.current.versionId);
    expect(one.secrets.slack?.previous).toBeUndefined(); // inputs are not changed

    const three = setSecret(two, 'slack', c as SecretValue<string>, LATER);
    expect(three.secrets.slack?.previous).toEqual(two.secrets.slack?.current);
    expect(three.secrets.slack?.current.value).toBe(c);

    const removed = removeSecret(three, 'slack');
    expect(removed.secrets.slack).toBeUndefined();
    expect(three.secrets.slack).toBeDefined();
    expect(removeSecret(removed, 'jira')).toEqual(removed);
  });

  it('keeps values wrapped: printing a document shows no secret', () => {
    const { doc, values } = sampleDoc();
    assertNoCanary({ doc }, values);
  });
});

describe('writeSecretFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opsbot-secret-file-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes mode 0600, replaces the old file and leaves no temporary file behind', async () => {
    const path = join(dir, 'secrets.enc');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeSecretFileAtomic(path, Buffer.from('new'));
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeSecretFileAtomic(path, Buffer.from('newer'));
    expect(await readFile(path, 'utf8')).toBe('newer');
    expect(await readdir(dir)).toEqual(['secrets.enc']);
  });

  it('fails without leaving anything behind when the directory does not exist', async () => {
    await expect(
      writeSecretFileAtomic(join(dir, 'missing', 'secrets.enc'), Buffer.from('x')),
    ).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('cleans up its temporary file when the rename fails', async () => {
    const path = join(dir, 'secrets.enc');
    await mkdir(path); // a directory where the file should go
    await writeFile(join(path, 'occupant'), 'x');
    await expect(writeSecretFileAtomic(path, Buffer.from('x'))).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['secrets.enc']);
  });
});
