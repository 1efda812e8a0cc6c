import type { AllMiddlewareArgs, BlockAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { FreshCredentials } from '../../../src/credentials/fresh-credentials.js';
import type { Credential, CredentialProvider } from '../../../src/credentials/provider.js';
import type { GitHubSecret } from '../../../src/integrations/github-client.js';
import { type SlackSecret, slack } from '../../../src/integrations/slack.js';
import type { SecretValue } from '../../../src/log/secret-value.js';
import type { PipelineDeps } from '../../../src/slack/interaction.js';
import { checkAccess } from '../../../src/slack/middleware/access.js';

/**
 * Types only (checked by `tsc -p test/tsconfig.json`; the functions below never run): a secret's
 * type comes from its spec, never from the caller, and the library types reach Bolt as they are.
 * The `@ts-expect-error` lines are the proof that a wrong type does not compile.
 */
describe('typed secret accessors', () => {
  it('reads a secret through its spec as the type its schema parses to', () => {
    const read = (provider: CredentialProvider) => provider.get(slack.secret);
    expectTypeOf(read).returns.resolves.toEqualTypeOf<Credential<SlackSecret>>();
    expectTypeOf<Awaited<ReturnType<typeof read>>['value']>().toEqualTypeOf<SecretValue<SlackSecret>>();
    const current = (provider: CredentialProvider) => provider.current(slack.secret);
    expectTypeOf(current).returns.toEqualTypeOf<Credential<SlackSecret>>();
    const byName = (provider: CredentialProvider) => provider.get('slack');
    expectTypeOf(byName).returns.resolves.toEqualTypeOf<Credential>();
    expectTypeOf<Credential>().toEqualTypeOf<Credential<unknown>>();
  });

  it('refuses a caller-chosen type', () => {
    const wrong = async (provider: CredentialProvider) => {
      // @ts-expect-error reading by name, the caller no longer chooses the secret's type
      await provider.get<SlackSecret>('slack');
      // @ts-expect-error the spec's type is the type: a Slack secret is no GitHub secret
      const github: Credential<GitHubSecret> = await provider.get(slack.secret);
      // @ts-expect-error nor can the caller name another type for the spec
      await provider.get<GitHubSecret>(slack.secret);
      return github;
    };
    expect(typeof wrong).toBe('function');
  });

  it("builds an integration's client from the spec's type, without a cast", () => {
    const clients = (
      provider: CredentialProvider,
      deps: Omit<ConstructorParameters<typeof FreshCredentials>[0], 'provider' | 'factory'>,
    ) =>
      new FreshCredentials({
        ...deps,
        provider,
        factory: {
          secret: slack.secret,
          createClient: (secret, credential) => {
            expectTypeOf(secret).toEqualTypeOf<SlackSecret>();
            expectTypeOf(credential).toEqualTypeOf<Credential<SlackSecret>>();
            // @ts-expect-error a Slack secret has no `token` field
            return { token: secret.token as string, bot: secret.botToken };
          },
          isAuthFailure: () => false,
        },
      });
    expectTypeOf(clients).returns.toEqualTypeOf<
      FreshCredentials<SlackSecret, { token: string; bot: string }>
    >();
  });

  it("gives Bolt middleware typed over Bolt's own listener arguments", () => {
    type ActionArgs = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;
    const access = (deps: PipelineDeps, reply: (args: ActionArgs, text: unknown) => Promise<void>) =>
      checkAccess(deps, reply);
    expectTypeOf(access).returns.toEqualTypeOf<Middleware<SlackActionMiddlewareArgs<BlockAction>>>();
  });
});
