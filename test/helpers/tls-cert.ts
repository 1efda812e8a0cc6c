import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway certificate authority and a server certificate it signed for 127.0.0.1 (PEM). */
export interface TestTls {
  /** The CA's certificate: what a client trusts (`OPSBOT_VAULT_CACERT`, undici's `connect.ca`). */
  ca: string;
  /** The server's private key and certificate (`SimulatedVault`'s `tls`). */
  key: string;
  cert: string;
}

/**
 * Makes a CA and a server certificate for `127.0.0.1` / `localhost` with the `openssl` CLI, in a
 * temporary directory that is removed before returning: keys are made at run time and never
 * committed. Valid for one day.
 */
export function makeTestTls(): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-tls-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  try {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=opsbot test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout',
      at('ca.key'),
      '-out',
      at('ca.pem'),
    );
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      at('server.key'),
      '-out',
      at('server.csr'),
    );
    writeFileSync(
      at('server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
    );
    openssl(
      'x509',
      '-req',
      '-in',
      at('server.csr'),
      '-CA',
      at('ca.pem'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      at('server.ext'),
      '-out',
      at('server.pem'),
    );
    return {
      ca: readFileSync(at('ca.pem'), 'utf8'),
      key: readFileSync(at('server.key'), 'utf8'),
      cert: readFileSync(at('server.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
