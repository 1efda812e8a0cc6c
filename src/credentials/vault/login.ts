import { readFile } from 'node:fs/promises';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { VaultAuthMethod } from '../../config/vault-settings.js';
import type { SecretValue } from '../../log/secret-value.js';
import type { VaultHttp } from './http.js';

/** Temporary AWS credentials, as the SDK's credential providers return them. */
export type AwsCredentialsProvider = () => Promise<{
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}>;

/** A Vault token just obtained: the token itself (never logged), its accessor and lease. */
export interface VaultLoginResult {
  token: string;
  /** Vault's handle on the token: safe to log, cannot be used to read secrets. */
  accessor: string;
  /** 0: the token does not expire (a root or periodic-less token from `VAULT_TOKEN`). */
  leaseSeconds: number;
  renewable: boolean;
  policies: string[];
}

/** One way of logging into Vault with opsbot's identity. */
export interface VaultLogin {
  readonly method: VaultAuthMethod;
  /** What the login is, for messages: `aws auth (mount aws, role opsbot)`. */
  readonly describe: string;
  login(vault: VaultHttp, signal?: AbortSignal): Promise<VaultLoginResult>;
}

/** The request Vault's AWS auth method replays to STS: the only body it accepts. */
const GET_CALLER_IDENTITY = 'Action=GetCallerIdentity&Version=2011-06-15';
/** The global STS endpoint, which Vault's AWS auth method calls unless told otherwise. */
export const GLOBAL_STS_URL = 'https://sts.amazonaws.com/';

export interface AwsLoginOptions {
  role: string;
  mount: string;
  /** Signed into the request as `X-Vault-AWS-IAM-Server-ID` (Vault's replay protection). */
  serverId?: string;
  /** The STS endpoint the request is signed for (`AWS_ENDPOINT_URL_STS`, else the global one). */
  stsUrl?: string;
  /** The region it is signed for: `us-east-1` for the global endpoint. */
  region?: string;
  /** The task role's credentials: the SDK's default chain unless given (tests). */
  credentials?: AwsCredentialsProvider;
}

/**
 * Vault's AWS IAM auth method: an `sts:GetCallerIdentity` request signed (SigV4, the AWS SDK's own
 * signer) with the task role's credentials, sent to Vault, which replays it to STS to learn who
 * opsbot is. No secret of opsbot's own is involved: the role's temporary credentials sign it.
 */
export function awsIamLogin(options: AwsLoginOptions): VaultLogin {
  const credentials = options.credentials ?? defaultProvider();
  const stsUrl = new URL(options.stsUrl ?? GLOBAL_STS_URL);
  const region = options.region ?? 'us-east-1';
  const signer = new SignatureV4({ credentials, region, service: 'sts', sha256: Hash.bind(null, 'sha256') });
  return {
    method: 'aws',
    describe: `aws auth (mount ${options.mount}, role ${options.role})`,
    async login(vault, signal) {
      const request = new HttpRequest({
        method: 'POST',
        protocol: stsUrl.protocol,
        hostname: stsUrl.hostname,
        ...(stsUrl.port ? { port: Number(stsUrl.port) } : {}),
        path: stsUrl.pathname || '/',
        headers: {
          host: stsUrl.host,
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          ...(options.serverId ? { 'x-vault-aws-iam-server-id': options.serverId } : {}),
        },
        body: GET_CALLER_IDENTITY,
      });
      const signed = await signer.sign(request);
      // As Vault's own client sends them: header name → list of values, base64 of the JSON.
      const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, [String(v)]]));
      const { body } = await vault.request({
        method: 'POST',
        path: `auth/${options.mount}/login`,
        body: {
          role: options.role,
          iam_http_request_method: 'POST',
          iam_request_url: base64(stsUrl.toString()),
          iam_request_body: base64(GET_CALLER_IDENTITY),
          iam_request_headers: base64(JSON.stringify(headers)),
        },
        ...(signal ? { signal } : {}),
      });
      return loginResultOf(body);
    },
  };
}

export interface KubernetesLoginOptions {
  role: string;
  mount: string;
  /** The pod's projected service-account token; re-read at every login (the kubelet rotates it). */
  tokenFile: string;
  readToken?: (path: string) => Promise<string>;
}

/** Vault's Kubernetes auth method: the pod's service-account JWT, read from its file each time. */
export function kubernetesLogin(options: KubernetesLoginOptions): VaultLogin {
  const read = options.readToken ?? ((path: string) => readFile(path, 'utf8'));
  return {
    method: 'kubernetes',
    describe: `kubernetes auth (mount ${options.mount}, role ${options.role})`,
    async login(vault, signal) {
      let jwt: string;
      try {
        jwt = (await read(options.tokenFile)).trim();
      } catch (error) {
        throw new VaultLoginSetupError(
          `cannot read the service-account token ${options.tokenFile} (${(error as NodeJS.ErrnoException).code ?? 'error'}); mount it (automountServiceAccountToken or a projected volume) or set OPSBOT_VAULT_K8S_TOKEN_FILE`,
        );
      }
      if (jwt === '') {
        throw new VaultLoginSetupError(`the service-account token file ${options.tokenFile} is empty`);
      }
      const { body } = await vault.request({
        method: 'POST',
        path: `auth/${options.mount}/login`,
        body: { role: options.role, jwt },
        ...(signal ? { signal } : {}),
      });
      return loginResultOf(body);
    },
  };
}

/**
 * `VAULT_TOKEN` (development only): nothing to log into; `lookup-self` tells its lease so it is
 * renewed like any other, and a refusal says the token is no good.
 */
export function staticTokenLogin(token: SecretValue<string>): VaultLogin {
  return {
    method: 'token',
    describe: 'token auth (VAULT_TOKEN)',
    async login(vault, signal) {
      const { body } = await vault.request({
        method: 'GET',
        path: 'auth/token/lookup-self',
        token: token.reveal(),
        ...(signal ? { signal } : {}),
      });
      const data = (body as { data?: Record<string, unknown> } | undefined)?.data ?? {};
      return {
        token: token.reveal(),
        accessor: typeof data.accessor === 'string' ? data.accessor : '',
        leaseSeconds: typeof data.ttl === 'number' ? data.ttl : 0,
        renewable: data.renewable === true,
        policies: Array.isArray(data.policies) ? data.policies.map(String) : [],
      };
    },
  };
}

/** The login was not even sent: something on opsbot's side is missing (a file, credentials). */
export class VaultLoginSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultLoginSetupError';
  }
}

/** `auth` of a login or renew answer. */
export function loginResultOf(body: unknown): VaultLoginResult {
  const auth = (body as { auth?: Record<string, unknown> } | undefined)?.auth;
  if (!auth || typeof auth.client_token !== 'string' || auth.client_token === '') {
    throw new VaultLoginSetupError('Vault answered the login without a client token');
  }
  return {
    token: auth.client_token,
    accessor: typeof auth.accessor === 'string' ? auth.accessor : '',
    leaseSeconds: typeof auth.lease_duration === 'number' ? auth.lease_duration : 0,
    renewable: auth.renewable === true,
    policies: Array.isArray(auth.policies) ? auth.policies.map(String) : [],
  };
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
