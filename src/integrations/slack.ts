import { ErrorCode as WebApiErrorCode, WebClient, type WebClientOptions } from '@slack/web-api';
import { z } from 'zod';
import { prefixedSecret, secretText } from '../credentials/secret-spec.js';
import type { Logger } from '../log.js';
import { slackRotation } from '../rotation/slack.js';
import { secretIntegration } from './integration.js';
import { createSlackApi, type SlackApi } from './slack-api.js';
import { slackLogger } from './slack-logger.js';

declare module './integration.js' {
  interface IntegrationApis {
    slack: SlackApi;
  }
}

export const slackSecretSchema = z.object({
  // `xoxe.xoxb-…`: a bot token that expires (Slack token rotation).
  botToken: secretText('botToken').regex(/^(xoxe\.)?xoxb-/, {
    error: 'botToken: expected a value starting with xoxb-',
  }),
  signingSecret: secretText('signingSecret'),
  appToken: prefixedSecret('appToken', 'xapp-').optional(),
  /** Slack token rotation: what refreshes the bot token (`oauth.v2.access`), and when it expires. */
  refreshToken: prefixedSecret('refreshToken', 'xoxe-').optional(),
  clientId: z.string().min(1).max(100).optional(),
  clientSecret: secretText('clientSecret').optional(),
  expiresAt: z.iso.datetime({ offset: true, error: 'expiresAt: expected an ISO 8601 date' }).optional(),
});
export type SlackSecret = z.infer<typeof slackSecretSchema>;

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
 * client's whole request queue; the shared {@link RateLimits} then waits for that one channel or
 * method only.
 */
export function slackClientOptions(options: SlackClientOptions): WebClientOptions {
  return {
    ...(options.apiUrl ? { slackApiUrl: withSlash(options.apiUrl) } : {}),
    rejectRateLimitedCalls: true,
    // Network errors and 5xx: a few quick retries; never minutes of hidden waiting.
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 1_000 },
    timeout: 10_000,
    allowAbsoluteUrls: false,
    logger: slackLogger(options.log.child({ component: 'slack-web-api' })),
  };
}

/**
 * Slack: the one required integration. A WebClient per version of the `slack` secret; an
 * `invalid_auth` after a rotation takes the shared refresh-and-retry-once path. Its signing secret
 * verifies every inbound request (CURRENT, PENDING, then PREVIOUS for a grace period).
 */
export const slack = secretIntegration({
  kind: 'secret',
  name: 'slack',
  title: 'Slack',
  secret: {
    schema: slackSecretSchema,
    sensitive: ['botToken', 'signingSecret', 'appToken', 'refreshToken', 'clientSecret'],
    inbound: 'signingSecret',
    required: true,
  },
  createClient: (secret: SlackSecret, deps) =>
    new WebClient(
      secret.botToken,
      slackClientOptions({
        log: deps.log,
        ...(deps.config.slack.apiUrl ? { apiUrl: deps.config.slack.apiUrl } : {}),
      }),
    ),
  isAuthFailure: isSlackAuthFailure,
  // With token rotation on, the bot token lives 12 hours: an expired one is never sent.
  expiresAt: (secret: SlackSecret) => (secret.expiresAt ? Date.parse(secret.expiresAt) : undefined),
  createApi: (calls, deps) => createSlackApi({ calls, rateLimits: deps.rateLimits }),
  rotation: slackRotation(),
});

export function isSlackAuthFailure(error: unknown): boolean {
  const e = error as { code?: string; data?: { error?: string } } | undefined;
  return e?.code === WebApiErrorCode.PlatformError && AUTH_ERRORS.has(e.data?.error ?? '');
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
