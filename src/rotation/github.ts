import { createAppAuth } from '@octokit/auth-app';
import type { SecretSpec } from '../credentials/secret-spec.js';
import type { GitHubSecret } from '../integrations/github-client.js';
import { RotationStepError } from './errors.js';
import { type RotationContext, type RotationKind, RotationTestError } from './kind.js';
import { vendorGet } from './vendor-http.js';

const PUBLIC_API = 'https://api.github.com';

/**
 * The `github` secret is made by a person (GitHub shows an App's private key once, and makes a
 * fine-grained token only in its web UI). testSecret proves the new value: with an App key, `GET
 * /app` with a JWT signed by the NEW key answers 200 for the same app id; with a token, `GET /user`
 * answers 200. `spec` is the integration's own secret, read when first needed (the integration
 * module declares both).
 */
export function githubRotation(spec: () => SecretSpec<GitHubSecret>): RotationKind<GitHubSecret> {
  return {
    get spec() {
      return spec();
    },
    automatic: () => false,
    personMakes: 'GitHub App private key (with appId and installationId) or fine-grained token',
    test: (pending, ctx) => ('token' in pending ? testToken(pending.token, ctx) : testAppKey(pending, ctx)),
  };
}

const apiOf = (ctx: RotationContext) => (ctx.endpoints.githubApiUrl ?? PUBLIC_API).replace(/\/+$/, '');

async function testToken(token: string, ctx: RotationContext): Promise<void> {
  const answer = await vendorGet('GitHub', `${apiOf(ctx)}/user`, { authorization: `Bearer ${token}` });
  if (answer.status !== 200) {
    throw new RotationTestError(
      `GitHub refused the new token (${answer.status}): ${answer.reason}. Check that it is the new fine-grained token and has not expired, then put it as AWSPENDING again`,
    );
  }
}

async function testAppKey(
  secret: { appId: string; privateKey: string },
  ctx: RotationContext,
): Promise<void> {
  let jwt: string;
  try {
    ({ token: jwt } = await createAppAuth({ appId: secret.appId, privateKey: secret.privateKey })({
      type: 'app',
    }));
  } catch {
    throw new RotationTestError(
      'the new privateKey could not sign a JWT: put the PEM file GitHub downloaded (-----BEGIN RSA PRIVATE KEY-----…) as AWSPENDING again',
    );
  }
  ctx.log.debug({ appId: secret.appId }, 'testing the new GitHub App key with GET /app');
  const answer = await vendorGet('GitHub', `${apiOf(ctx)}/app`, { authorization: `Bearer ${jwt}` });
  if (answer.status !== 200) {
    throw new RotationTestError(
      `GitHub refused a JWT signed by the new private key for App ${secret.appId} (${answer.status}): ${answer.reason}. Check that the key was generated for this App (App settings → Private keys) and that appId is right`,
    );
  }
  const id = (answer.body as { id?: unknown } | undefined)?.id;
  if (id === undefined) throw new RotationStepError('GitHub answered GET /app with no App id');
  if (String(id) !== secret.appId) {
    throw new RotationTestError(
      `the new private key belongs to GitHub App ${String(id)}, not ${secret.appId}: put the key of App ${secret.appId}, or correct appId`,
    );
  }
}
