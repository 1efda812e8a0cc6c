import type { IntegrationName } from '../config.js';
import { ErrorCode, UserFacingError } from '../errors.js';

export const INTEGRATION_TITLES: Record<IntegrationName, string> = {
  slack: 'Slack',
  github: 'GitHub',
  jira: 'Jira',
  datadog: 'Datadog',
};

/** The integration's secret does not exist: its commands answer that it is not configured. */
export class IntegrationNotConfiguredError extends UserFacingError {
  constructor(integration: IntegrationName, secretName: string) {
    super(
      `${INTEGRATION_TITLES[integration]} is not configured: opsbot has no secret \`${secretName}\`. ` +
        'Ask an opsbot admin to add it (README.md, "Secrets").',
      { code: ErrorCode.NotConfigured },
    );
  }
}

/** The secret cannot be used right now (access denied, malformed, too stale, not loaded in time). */
export class CredentialUnavailableError extends UserFacingError {
  readonly integration: IntegrationName;

  constructor(integration: IntegrationName, reason: string, options?: { cause?: unknown }) {
    super(`opsbot cannot use its ${INTEGRATION_TITLES[integration]} credential right now: ${reason}`, {
      code: ErrorCode.CredentialUnavailable,
      ...options,
    });
    this.integration = integration;
  }
}

/** The service rejected the credential, and reloading it from the source did not help. */
export class CredentialRejectedError extends UserFacingError {
  readonly integration: IntegrationName;

  constructor(integration: IntegrationName, secretName: string, options?: { cause?: unknown }) {
    const title = INTEGRATION_TITLES[integration];
    super(
      `${title} rejected opsbot's credential, and reloading it from the secret store did not help. ` +
        `Ask an opsbot admin to check the secret \`${secretName}\` (is it current, and still valid in ${title}?).`,
      { code: ErrorCode.CredentialRejected, ...options },
    );
    this.integration = integration;
  }
}
