import { ErrorCode, UserFacingError } from '../errors.js';

// Each error names the service by its title (`GitHub`), as its integration module declares it.

/** The integration's secret does not exist: its commands answer that it is not configured. */
export class IntegrationNotConfiguredError extends UserFacingError {
  constructor(title: string, secretName: string) {
    super(
      `${title} is not configured: opsbot has no secret \`${secretName}\`. ` +
        'Ask an opsbot admin to add it (README.md, "Secret shapes").',
      { code: ErrorCode.NotConfigured },
    );
  }
}

/** The secret cannot be used right now (access denied, malformed, too stale, not loaded in time). */
export class CredentialUnavailableError extends UserFacingError {
  constructor(title: string, reason: string, options?: { cause?: unknown }) {
    super(`opsbot cannot use its ${title} credential right now: ${reason}`, {
      code: ErrorCode.CredentialUnavailable,
      ...options,
    });
  }
}

/** The service rejected the credential, and reloading it from the source did not help. */
export class CredentialRejectedError extends UserFacingError {
  constructor(title: string, secretName: string, options?: { cause?: unknown }) {
    super(
      `${title} rejected opsbot's credential, and reloading it from the secret store did not help. ` +
        `Ask an opsbot admin to check the secret \`${secretName}\` (is it current, and still valid in ${title}?).`,
      { code: ErrorCode.CredentialRejected, ...options },
    );
  }
}

/**
 * The credential's own expiry (Slack's rotating bot token, `expiresAt`) has passed and the secret
 * store has no newer version: opsbot does not send an expired credential.
 */
export class CredentialExpiredError extends UserFacingError {
  constructor(title: string, secretName: string, expiredAt: number) {
    super(
      `opsbot's ${title} credential expired at ${new Date(expiredAt).toISOString()} and \`${secretName}\` has no newer version, so opsbot did not send it. ` +
        `Ask an opsbot admin to rotate it (\`/opsbot rotate\`, "Rotating each secret" in README.md) and to check that its rotation schedule runs.`,
      { code: ErrorCode.CredentialRejected },
    );
  }
}
