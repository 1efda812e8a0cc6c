import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { AuditStore } from '../store/state.js';
import { logAnchor } from './anchor.js';
import { auditSecret } from './audit-secret.js';
import { GENESIS_HASH } from './chain.js';
import { AuditKeyring, type AuditKeySource } from './keyring.js';

export interface AuditTrailWiring {
  keyring: AuditKeyring;
  /** Call once the provider's first load of every secret is over: says how the chain is keyed. */
  settle(): void;
}

/**
 * Connects the audit store to its chain keys (the `audit` secret, through the credential provider)
 * and to the log: the head as read from the database is logged now, and after every commit, as an
 * anchor line (`{"auditAnchor":{"seq":N,"hash":"…"}}`) outside the database.
 */
export function wireAuditTrail(
  store: Pick<AuditStore, 'attach' | 'head'>,
  provider: AuditKeySource & { secretName(name: string): string },
  log: Logger,
  /** Times how long appends wait for the first load at most; the system clock by default. */
  clock?: Clock,
): AuditTrailWiring {
  const keyring = new AuditKeyring(provider, clock ? { clock } : {});
  const atStart = store.head();
  logAnchor(log, atStart ?? { seq: 0, hash: GENESIS_HASH }, 'start');
  store.attach({ keys: keyring, onCommit: (head) => logAnchor(log, head, 'commit') });
  return {
    keyring,
    settle() {
      keyring.settle();
      const key = keyring.current();
      const secret = provider.secretName(auditSecret.name);
      if (!key && atStart?.keyVersion !== undefined) {
        log.error(
          { secret, keyVersion: atStart.keyVersion },
          `the audit trail is chained with the audit key, but the ${secret} secret is not loaded: opsbot stores no audit record (and runs no action with a side effect) until it loads, since records without the key after keyed ones would break the trail. Restore the secret (README.md, "Audit trail")`,
        );
      } else if (!key) {
        log.warn(
          { secret },
          `the audit trail is chained without a key: whoever can write the database could rewrite it undetected. Store { "chainKey": "<base64 of 32 random bytes>" } (openssl rand -base64 32) as the ${secret} secret (README.md, "Audit trail")`,
        );
      } else if (atStart && atStart.seq > 0 && atStart.keyVersion === undefined) {
        log.warn(
          { secret, seq: atStart.seq },
          `the audit trail ends with a record chained without a key although the chain key is loaded: expected on the first start with the audit secret, when the trail was started without it. opsbot chains every new record with the key, but /opsbot audit --verify reports records 1–${atStart.seq} as a break until an admin who trusts them adopts them with /opsbot audit --adopt-unkeyed ${atStart.seq}. If opsbot ran with the key before, the trail was re-chained while it was stopped: do not adopt it; compare the start-up auditAnchor with the last one logged before`,
        );
      } else if (atStart?.keyVersion !== undefined && keyring.get(atStart.keyVersion) === undefined) {
        log.info(
          { secret, keyVersion: atStart.keyVersion },
          'the audit chain key version of the last record is no longer loaded: a key_rotated record will link the next records to the current key; records of the old version can no longer be verified by this process',
        );
      }
    },
  };
}
