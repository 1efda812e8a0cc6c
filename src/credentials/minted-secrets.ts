import type { SecretMasker } from '../log.js';

/**
 * A client that mints credentials at run time from its secret (GitHub installation tokens and App
 * JWTs): the integration registry hands it the app's redactor as soon as it is built, so it can
 * register each credential for as long as it is valid. No integration module has to remember to.
 */
export interface MintsSecrets {
  maskMintedSecretsWith(masker: SecretMasker): void;
}

/** Whether `client` mints credentials at run time (see {@link MintsSecrets}). */
export function mintsSecrets(client: unknown): client is MintsSecrets {
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof (client as Partial<MintsSecrets>).maskMintedSecretsWith === 'function'
  );
}
