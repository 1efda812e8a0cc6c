import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileSource } from '../../../src/credentials/file-source.js';
import {
  decryptSecretFile,
  emptyDocument,
  encryptSecretFile,
  removeSecret,
  setSecret,
  writeSecretFileAtomic,
} from '../../../src/credentials/secret-file.js';
import { SecretValue } from '../../../src/log/secret-value.js';
import type { SourceDriver } from '../../contract/secret-source-contract.js';
import { SECRET_NAMES } from '../catalog.js';

/**
 * The `file` source on a fresh encrypted file (a random key drawn here), written as `npm run secrets`
 * writes it: a put makes a new current version and keeps the old one as previous.
 *
 * An outage is a read of the file failing with EIO (a disk or network-filesystem error), injected
 * through the source's `readFile` option (the one thing from-config.ts does not pass). Neither
 * natural way works as an outage: a file moved away reads as `not_found` (every integration not
 * configured), and `chmod 000` reads as `access_denied` (fail closed at once), or not at all as root.
 */
export async function openFileDriver(): Promise<SourceDriver> {
  const dir = await mkdtemp(join(tmpdir(), 'opsbot-source-contract-'));
  const path = join(dir, 'secrets.enc');
  const key = randomBytes(32);
  const prefix = 'opsbot/';
  let down = false;
  const integrationOf = (name: string) => name.slice(prefix.length);
  const load = async () => decryptSecretFile(await readFile(path), key);
  const save = (doc: ReturnType<typeof emptyDocument>) =>
    writeSecretFileAtomic(path, encryptSecretFile(doc, key));
  await save(emptyDocument());

  const source = createFileSource({
    path,
    key: new SecretValue(key),
    prefix,
    names: SECRET_NAMES,
    readFile: async (p, { signal }) => {
      if (down) throw Object.assign(new Error(`EIO: i/o error, open '${p}'`), { code: 'EIO' });
      return readFile(p, signal ? { signal } : {});
    },
  });
  return {
    source,
    prefix,
    async put(name, secretString) {
      await save(setSecret(await load(), integrationOf(name), new SecretValue(secretString), new Date()));
    },
    async remove(name) {
      await save(removeSecret(await load(), integrationOf(name)));
    },
    outage: {
      begin: async () => {
        down = true;
      },
      end: async () => {
        down = false;
      },
    },
    previousVersions: 1,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
