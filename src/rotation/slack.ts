import { type WebAPICallResult, WebClient } from '@slack/web-api';
import { type SlackSecret, slack, slackClientOptions } from '../integrations/slack.js';
import type { RotationContext, RotationKind } from './kind.js';
import { RotationTestError } from './kind.js';

/** A Slack rotation step could not be done; the text says what to do next (never a token). */
export class SlackRotationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SlackRotationError';
  }
}

/**
 * The `slack` secret. With Slack token rotation on (a `refreshToken`), it rotates with no person:
 * `oauth.v2.access` (`grant_type=refresh_token`) gives a new bot token (`xoxe.xoxb-…`, 12 hours)
 * and a new refresh token; the signing secret and app token stay. Without one, the values are a
 * person's (signing secret, app token, a bot token that does not expire): they put them as
 * AWSPENDING and testSecret proves what Slack can prove.
 *
 * Retiring: in an emergency (the bot token leaked), the previous bot token is revoked at Slack
 * (`auth.revoke`, called with that token) as soon as the new one is current, so the leaked value
 * stops working everywhere, not only for opsbot. Otherwise nothing: Slack's previous access token
 * expires by itself (12 hours after it was issued) and its refresh token was spent by the exchange;
 * revoking it early would refuse the calls of a replica that has not loaded the new one yet.
 */
export function slackRotation(): RotationKind<SlackSecret> {
  // A function declaration, not a const: the integration module calls it while the two modules
  // import each other, and a hoisted function is ready before either module's body has run.
  return {
    // Read when used: src/integrations/slack.ts declares this kind as its `rotation` (an import cycle).
    get spec() {
      return slack.secret;
    },
    automatic: (current) => current.refreshToken !== undefined,

    async create(current, ctx) {
      const { refreshToken, clientId, clientSecret } = current;
      if (!refreshToken || !clientId || !clientSecret)
        throw new SlackRotationError(
          `${ctx.name} has ${refreshToken ? 'a refreshToken but no clientId or clientSecret' : 'no refreshToken'}: add the app's clientId and clientSecret (Slack app settings, Basic Information) to the secret, then run the rotation again`,
        );
      const answer = await slackCall(ctx, undefined, 'refresh the bot token (oauth.v2.access)', (c) =>
        c.oauth.v2.access({
          client_id: clientId,
          client_secret: clientSecret,
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
        }),
      );
      const { access_token: botToken, refresh_token: nextRefresh, expires_in: expiresIn } = answer;
      if (typeof botToken !== 'string' || typeof nextRefresh !== 'string' || typeof expiresIn !== 'number')
        throw new SlackRotationError(
          'Slack answered oauth.v2.access without an access token, refresh token and expiry: check that token rotation is on for the app (OAuth & Permissions), then run the rotation again',
        );
      await sameInstallation(ctx, current.botToken, botToken);
      ctx.log.info({ secret: ctx.name, expiresIn }, 'Slack issued a new bot token');
      return {
        ...current,
        botToken,
        refreshToken: nextRefresh,
        expiresAt: new Date(ctx.now() + expiresIn * 1_000).toISOString(),
      };
    },

    async retire(previous, current, ctx) {
      if (!ctx.emergency || previous.botToken === current.botToken) return;
      try {
        await slackCall(ctx, previous.botToken, 'revoke the previous bot token (auth.revoke)', (c) =>
          c.auth.revoke(),
        );
      } catch (error) {
        // Already dead at Slack (expired, revoked, app reinstalled): what the revocation wanted.
        if (!GONE.has(slackReason(error))) throw error;
      }
      ctx.log.info({ secret: ctx.name }, 'revoked the previous Slack bot token (emergency rotation)');
    },

    async test(pending, ctx) {
      const rotating = pending.refreshToken !== undefined;
      await proveSlack(ctx, pending.botToken, 'auth.test', (c) => c.auth.test(), rotating);
      if (pending.appToken) {
        await proveSlack(
          ctx,
          pending.appToken,
          'apps.connections.open with the app token',
          (c) => c.apps.connections.open(),
          rotating,
        );
      }
    },
  };
}

/**
 * The new token must act for the same bot in the same workspace as the current one (a refresh token
 * pasted from another installation would not). When the current token has expired already, Slack
 * cannot say whose it was, and the refresh token's own installation is trusted.
 */
async function sameInstallation(ctx: RotationContext, currentToken: string, newToken: string): Promise<void> {
  const fresh = await slackCall(ctx, newToken, 'check the new bot token (auth.test)', (c) => c.auth.test());
  let before: WebAPICallResult & { team_id?: string; bot_id?: string };
  try {
    before = await slackCall(ctx, currentToken, 'check the current bot token (auth.test)', (c) =>
      c.auth.test(),
    );
  } catch {
    return;
  }
  if (before.team_id !== fresh.team_id || before.bot_id !== fresh.bot_id)
    throw new SlackRotationError(
      `the refreshed bot token belongs to another ${before.team_id !== fresh.team_id ? 'workspace' : 'bot'} than the current one: put the refreshToken, clientId and clientSecret of this app's installation in ${ctx.name}, then run the rotation again`,
    );
}

/** Runs one Slack call for a rotation step; Slack's refusal becomes a {@link SlackRotationError}. */
async function slackCall<T extends WebAPICallResult>(
  ctx: RotationContext,
  token: string | undefined,
  what: string,
  fn: (client: WebClient) => Promise<T>,
): Promise<T> {
  const client = new WebClient(token, {
    ...slackClientOptions({
      log: ctx.log,
      ...(ctx.endpoints.slackApiUrl ? { apiUrl: ctx.endpoints.slackApiUrl } : {}),
    }),
    // One rotation step: no hidden retries that could spend a refresh token twice.
    retryConfig: { retries: 0 },
  });
  try {
    return await fn(client);
  } catch (error) {
    throw new SlackRotationError(`Slack refused to ${what}: ${slackReason(error)}. ${nextStep(error)}`, {
      cause: error,
    });
  }
}

/** A testSecret call: its refusal is a {@link RotationTestError} naming the value it proves. */
async function proveSlack<T extends WebAPICallResult>(
  ctx: RotationContext,
  token: string,
  what: string,
  fn: (client: WebClient) => Promise<T>,
  rotating: boolean,
): Promise<T> {
  try {
    return await slackCall(ctx, token, what, fn);
  } catch (error) {
    const hint = rotating
      ? 'the refreshed token is not valid; AWSCURRENT keeps serving; run the rotation again'
      : // A person-made version: say what could and could not be checked.
        'put the right values as AWSPENDING (a new signingSecret cannot be checked against Slack: only botToken and appToken are)';
    throw new RotationTestError(`the new Slack secret failed ${what}: ${slackReason(error)}; ${hint}`, {
      cause: error,
    });
  }
}

/** Slack's answers for a token that no longer works at all. */
const GONE: ReadonlySet<string> = new Set([
  'invalid_auth',
  'token_revoked',
  'token_expired',
  'account_inactive',
]);

/** Slack's error code (`invalid_auth`), or what went wrong on the way; never a token. */
function slackReason(error: unknown): string {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const data = (e as { data?: { error?: unknown } }).data;
    if (typeof data?.error === 'string') return data.error.slice(0, 100);
    const code = (e as { code?: unknown }).code;
    if (code === 'slack_webapi_request_error') return 'no answer from Slack';
    if (code === 'slack_webapi_http_error') return `HTTP ${(e as { statusCode?: unknown }).statusCode}`;
    if (code === 'slack_webapi_rate_limited_error') return 'rate limited';
  }
  return 'unknown error';
}

function nextStep(error: unknown): string {
  switch (slackReason(error)) {
    case 'invalid_refresh_token':
      return 'The refresh token in the secret was already used or revoked: reinstall the app (OAuth & Permissions) and put its new bot token and refresh token in the secret';
    case 'invalid_client_id':
    case 'bad_client_secret':
      return "Check clientId and clientSecret in the secret against the app's Basic Information page";
    case 'token_rotation_not_enabled':
      return 'Turn token rotation on for the app (OAuth & Permissions), or remove refreshToken from the secret';
    default:
      return 'Run the rotation again; if it keeps failing, check that the rotation function can reach Slack (OPSBOT_SLACK_API_URL)';
  }
}
