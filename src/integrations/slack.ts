import { ErrorCode as WebApiErrorCode, WebClient, type WebClientOptions } from '@slack/web-api';
import type { Logger } from '../log.js';
import { boltLogger } from '../slack/bolt-logger.js';
import type { Integration } from './integration.js';

/** Slack's answers meaning "this token is not (or no longer) valid". */
const AUTH_ERRORS = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
]);

export interface SlackClientOptions {
  /** `OPSBOT_SLACK_API_URL`: the sandbox and tests; Slack's own by default. */
  apiUrl?: string;
  log: Logger;
}

/**
 * WebClient options opsbot uses everywhere (its own calls and Bolt's per-event client).
 * `rejectRateLimitedCalls`: a 429 becomes an error carrying `retryAfter` instead of pausing the
 * client's whole request queue; {@link RetryAfter} then waits for that one channel or method only.
 */
export function slackClientOptions(options: SlackClientOptions): WebClientOptions {
  return {
    ...(options.apiUrl ? { slackApiUrl: withSlash(options.apiUrl) } : {}),
    rejectRateLimitedCalls: true,
    // Network errors and 5xx: a few quick retries; never minutes of hidden waiting.
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 1_000 },
    timeout: 10_000,
    allowAbsoluteUrls: false,
    logger: boltLogger(options.log.child({ component: 'slack-web-api' })),
  };
}

/**
 * The Slack integration: a WebClient per version of the `slack` secret. An `invalid_auth` from
 * Slack after a rotation takes the shared refresh-and-retry-once path.
 */
export function slackIntegration(options: SlackClientOptions): Integration<'slack', WebClient> {
  const clientOptions = slackClientOptions(options);
  return {
    name: 'slack',
    createClient: (secret) => new WebClient(secret.botToken, clientOptions),
    isAuthFailure: isSlackAuthFailure,
  };
}

export function isSlackAuthFailure(error: unknown): boolean {
  const e = error as { code?: string; data?: { error?: string } } | undefined;
  return e?.code === WebApiErrorCode.PlatformError && AUTH_ERRORS.has(e.data?.error ?? '');
}

/** The Slack error code (`channel_not_found`…) of a Web API error, if it is one. */
export function slackErrorCode(error: unknown): string | undefined {
  const e = error as { code?: string; data?: { error?: string } } | undefined;
  return e?.code === WebApiErrorCode.PlatformError ? e.data?.error : undefined;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
