import type { Clock } from '../../clock.js';
import type { VaultSettings } from '../../config/vault-settings.js';
import type { Env } from '../../config.js';
import type { Logger, SecretMasker } from '../../log.js';
import type { SecretSource } from '../source.js';
import { readCaFile, VaultHttp } from './http.js';
import {
  type AwsCredentialsProvider,
  awsIamLogin,
  kubernetesLogin,
  staticTokenLogin,
  type VaultLogin,
} from './login.js';
import { VaultSession } from './session.js';
import { createVaultSource } from './source.js';

export interface VaultSourceDeps {
  env: Env;
  clock: Clock;
  log: Logger;
  masker: SecretMasker;
  /** `AWS_REGION`: the region a login is signed for when `AWS_ENDPOINT_URL_STS` names a regional STS. */
  region?: string;
  /** The task role's credentials (the SDK's default chain unless given). */
  credentials?: AwsCredentialsProvider;
}

/** The `vault` source as `OPSBOT_VAULT_*` describe it: the HTTP client, the login, the token's session. */
export function createVaultSourceFromSettings(settings: VaultSettings, deps: VaultSourceDeps): SecretSource {
  const vault = new VaultHttp({
    addr: settings.addr,
    ...(settings.namespace ? { namespace: settings.namespace } : {}),
    ...(settings.caCertFile ? { ca: readCaFile(settings.caCertFile) } : {}),
  });
  const session = new VaultSession({
    vault,
    login: loginFor(settings, deps),
    clock: deps.clock,
    log: deps.log,
    masker: deps.masker,
  });
  return createVaultSource({ vault, session, kvMount: settings.kvMount });
}

function loginFor(settings: VaultSettings, deps: VaultSourceDeps): VaultLogin {
  switch (settings.auth) {
    case 'aws': {
      // The SDK's own variable for another STS endpoint (a regional one, or a test's): Vault's
      // `sts_endpoint` and `sts_region` must then name the same.
      const stsUrl = deps.env.AWS_ENDPOINT_URL_STS?.trim() || undefined;
      return awsIamLogin({
        role: settings.role as string,
        mount: settings.authMount,
        ...(settings.iamServerId ? { serverId: settings.iamServerId } : {}),
        ...(stsUrl ? { stsUrl, region: deps.region ?? 'us-east-1' } : {}),
        ...(deps.credentials ? { credentials: deps.credentials } : {}),
      });
    }
    case 'kubernetes':
      return kubernetesLogin({
        role: settings.role as string,
        mount: settings.authMount,
        tokenFile: settings.k8sTokenFile,
      });
    case 'token':
      if (!settings.token) throw new Error('OPSBOT_VAULT_AUTH=token needs VAULT_TOKEN');
      return staticTokenLogin(settings.token);
  }
}
