import type { Clock, Random } from '../clock.js';
import type { Config, Env } from '../config.js';
import type { Logger, SecretRedactor } from '../log.js';
import type { Registry } from '../metrics.js';
import { type AwsSourceOptions, createAwsSource } from './aws-source.js';
import { createEnvSource } from './env-source.js';
import type { CredentialEvents } from './events.js';
import { createFileSource } from './file-source.js';
import { type CredentialMetrics, createCredentialMetrics } from './metrics.js';
import { CredentialProvider, DEFAULT_PREVIOUS_GRACE_SECONDS } from './provider.js';
import type { SecretCatalog } from './secret-spec.js';
import type { SecretSource } from './source.js';
import { createVaultSourceFromSettings } from './vault/from-settings.js';
import type { AwsCredentialsProvider } from './vault/login.js';

export interface CredentialsDeps {
  config: Pick<Config, 'secrets' | 'aws'>;
  /** Every secret to load, with its shape (the integration registry's catalog). */
  catalog: SecretCatalog;
  env: Env;
  log: Logger;
  redactor: SecretRedactor;
  registry: Registry;
  /** Where the provider's events go (the app routes them to the audit trail). */
  events: CredentialEvents;
  clock: Clock;
  /** Jitter for polls and backoff; Math.random by default. */
  random?: Random;
  /** Tests and the console point the AWS SDK at a simulated Secrets Manager. */
  aws?: AwsSourceOptions['clientConfig'];
  /** Tests and the console: the credentials the Vault AWS login is signed with (else the SDK's default chain). */
  vaultAwsCredentials?: AwsCredentialsProvider;
}

export interface Credentials {
  source: SecretSource;
  provider: CredentialProvider;
  metrics: CredentialMetrics;
}

/** Builds the configured secret source and the provider on top of it (the `main.ts` wiring). */
export function createCredentials(deps: CredentialsDeps): Credentials {
  const { secrets } = deps.config;
  const source = createSource(deps);
  let provider: CredentialProvider | undefined;
  const metrics = createCredentialMetrics(deps.registry, {
    source: source.kind,
    staleness: () => provider?.staleness() ?? [],
  });
  provider = new CredentialProvider({
    source,
    catalog: deps.catalog,
    prefix: secrets.prefix,
    pollSeconds: secrets.pollSeconds,
    maxStaleSeconds: secrets.maxStaleSeconds,
    previousGraceMs: (secrets.previousGraceSeconds ?? DEFAULT_PREVIOUS_GRACE_SECONDS) * 1_000,
    log: deps.log.child({ component: 'credentials' }),
    redactor: deps.redactor,
    events: deps.events,
    metrics,
    clock: deps.clock,
    ...(deps.random ? { random: deps.random } : {}),
  });
  return { source, provider, metrics };
}

function createSource(deps: CredentialsDeps): SecretSource {
  const { secrets, aws } = deps.config;
  switch (secrets.source) {
    case 'aws':
      return createAwsSource({
        log: deps.log,
        env: deps.env,
        ...(aws.region ? { region: aws.region } : {}),
        ...(deps.aws ? { clientConfig: deps.aws } : {}),
      });
    case 'file': {
      if (!secrets.file)
        throw new Error('the file source needs OPSBOT_SECRET_FILE and OPSBOT_SECRET_FILE_KEY');
      return createFileSource({
        path: secrets.file.path,
        key: secrets.file.key,
        prefix: secrets.prefix,
        names: [...deps.catalog.keys()],
      });
    }
    case 'env':
      return createEnvSource({ env: deps.env, prefix: secrets.prefix, names: [...deps.catalog.keys()] });
    case 'vault': {
      if (!secrets.vault) throw new Error('the vault source needs OPSBOT_VAULT_ADDR (and OPSBOT_VAULT_ROLE)');
      return createVaultSourceFromSettings(secrets.vault, {
        env: deps.env,
        clock: deps.clock,
        log: deps.log.child({ component: 'vault' }),
        masker: deps.redactor,
        ...(aws.region ? { region: aws.region } : {}),
        ...(deps.vaultAwsCredentials ? { credentials: deps.vaultAwsCredentials } : {}),
      });
    }
  }
}
