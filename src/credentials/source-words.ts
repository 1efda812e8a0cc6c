import type { SecretSourceKind } from '../config.js';

/** How messages name a secret source, and what an admin checks when it refuses opsbot. */
export interface SourceWords {
  /** "Secrets Manager", "Vault"… */
  store: string;
  /** What grants opsbot access, for "Ask an opsbot admin to check …". */
  access: string;
}

const WORDS: Readonly<Record<SecretSourceKind, SourceWords>> = {
  aws: { store: 'Secrets Manager', access: "the bot's IAM role" },
  vault: { store: 'Vault', access: "opsbot's Vault login role and policy" },
  file: { store: 'the secret file', access: 'the secret file and OPSBOT_SECRET_FILE_KEY' },
  env: { store: 'the environment', access: "the bot's OPSBOT_SECRET_ variables" },
};

/** The words for `kind` (messages shown to users and in logs name the source opsbot really uses). */
export function sourceWords(kind: SecretSourceKind): SourceWords {
  return WORDS[kind];
}
