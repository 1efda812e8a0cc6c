import { randomBytes } from 'node:crypto';

/** How long a rotating bot token lives: Slack's 12 hours. */
export const SLACK_TOKEN_TTL_SECONDS = 12 * 60 * 60;

/**
 * Slack token rotation, simulated: `oauth.v2.access` with `grant_type=refresh_token` checks the
 * app's client id and secret and the refresh token, then issues a new expiring bot token
 * (`xoxe.xoxb-…`, 12 h on the simulator's clock) and a new refresh token; the refresh token used is
 * revoked (Slack: "the refresh token is then revoked"). Earlier access tokens keep working until
 * they expire.
 */
export class SlackTokenRotation {
  readonly #refreshTokens = new Set<string>();
  #client: { clientId: string; clientSecret: string } | undefined;

  constructor(
    private readonly issue: (token: string, expiresAt: number) => void,
    private readonly now: () => number,
    private readonly identity: { teamId: string; teamDomain: string; botUserId: string; appId: string },
  ) {}

  /** Turns token rotation on for the app; returns a refresh token to start from. */
  enable(client: { clientId: string; clientSecret: string }): { refreshToken: string } {
    this.#client = { ...client };
    return { refreshToken: this.#newRefreshToken() };
  }

  /** Revokes a refresh token (an uninstall, or one the test wants refused). */
  revokeRefreshToken(token: string): void {
    this.#refreshTokens.delete(token);
  }

  /** `oauth.v2.access`: Slack's answer (`ok: false` with its error code when refused). */
  access(args: Record<string, unknown>): Record<string, unknown> {
    const client = this.#client;
    if (!client) return { ok: false, error: 'token_rotation_not_enabled' };
    if (args.client_id !== client.clientId) return { ok: false, error: 'invalid_client_id' };
    if (args.client_secret !== client.clientSecret) return { ok: false, error: 'bad_client_secret' };
    if (args.grant_type !== 'refresh_token') return { ok: false, error: 'invalid_grant_type' };
    const refresh = args.refresh_token;
    if (typeof refresh !== 'string' || !this.#refreshTokens.delete(refresh))
      return { ok: false, error: 'invalid_refresh_token' };
    const accessToken = `xoxe.xoxb-1-${randomBytes(24).toString('hex')}`;
    this.issue(accessToken, this.now() + SLACK_TOKEN_TTL_SECONDS * 1_000);
    const { teamId, teamDomain, botUserId, appId } = this.identity;
    return {
      ok: true,
      app_id: appId,
      authed_user: { id: '' },
      scope: 'commands,chat:write',
      token_type: 'bot',
      access_token: accessToken,
      bot_user_id: botUserId,
      refresh_token: this.#newRefreshToken(),
      expires_in: SLACK_TOKEN_TTL_SECONDS,
      team: { id: teamId, name: teamDomain },
      enterprise: null,
      is_enterprise_install: false,
    };
  }

  #newRefreshToken(): string {
    const token = `xoxe-1-${randomBytes(24).toString('hex')}`;
    this.#refreshTokens.add(token);
    return token;
  }
}
