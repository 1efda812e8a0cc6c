import { SecretValue } from '../../log/secret-value.js';
import {
  type SecretDescription,
  type SecretSource,
  SecretSourceError,
  type SecretVersion,
  STAGE,
} from '../source.js';
import { type VaultHttp, VaultHttpError, VaultUnreachableError } from './http.js';
import { VaultLoginSetupError } from './login.js';
import type { VaultSession } from './session.js';

export interface VaultSourceOptions {
  vault: VaultHttp;
  session: VaultSession;
  /** `OPSBOT_VAULT_KV_MOUNT`: the KV v2 mount. */
  kvMount: string;
}

/** Secrets whose last labels are remembered (opsbot has a handful; the bound is for safety). */
const MAX_DESCRIBED = 100;

/** A KV v2 version as `metadata` lists it. */
interface KvVersionMeta {
  deletion_time?: string;
  destroyed?: boolean;
}

interface KvMetadata {
  current_version?: number;
  versions?: Record<string, KvVersionMeta>;
}

/**
 * Secrets from HashiCorp Vault or OpenBao (KV v2), logged into with opsbot's identity. Each secret
 * is `<mount>/data/<name>` (name = `<OPSBOT_SECRET_PREFIX><integration>`), its fields the secret's
 * fields. In the provider's Secrets Manager terms: a KV version number is the version id,
 * `current_version` is AWSCURRENT, the newest earlier version still readable is AWSPREVIOUS, and
 * versions deleted or destroyed are listed as `revoked` (never honoured, not even in a grace).
 * `describe` reads only `metadata` (cheap); `data` is read when a version is first needed.
 *
 * A 403 drops the token and the call is tried once more after a new login; a second 403 is a
 * missing policy capability, named with its path.
 *
 * @example
 * const source = createVaultSource({ vault, session, kvMount: 'secret' });
 * await source.describe('opsbot/slack'); // GET /v1/secret/metadata/opsbot/slack
 */
export function createVaultSource(options: VaultSourceOptions): SecretSource {
  const { vault, session, kvMount } = options;
  /** The labels each secret's last description gave its versions (getVersion answers with them). */
  const lastLabels = new Map<string, ReadonlyMap<string, readonly string[]>>();

  async function call(name: string, path: string, signal: AbortSignal | undefined): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let token: string;
      try {
        token = await session.token(signal);
      } catch (error) {
        throw loginError(name, session.describe, vault.addr, error);
      }
      try {
        const { body } = await vault.request({ method: 'GET', path, token, ...(signal ? { signal } : {}) });
        return body;
      } catch (error) {
        if (error instanceof VaultHttpError && error.status === 403 && attempt === 0) {
          session.invalidate(token);
          continue;
        }
        throw error;
      }
    }
  }

  return {
    kind: 'vault',
    async describe(name, { signal } = {}): Promise<SecretDescription> {
      const path = `${kvMount}/metadata/${name}`;
      let body: unknown;
      try {
        body = await call(name, path, signal);
      } catch (error) {
        throw toVaultSourceError(name, path, vault.addr, error);
      }
      const description = descriptionOf(name, `${vault.addr}/v1/${kvMount}/data/${name}`, body);
      if (!lastLabels.has(name) && lastLabels.size >= MAX_DESCRIBED) lastLabels.clear();
      lastLabels.set(name, description.versions);
      return description;
    },
    async getVersion(name, versionId, { signal } = {}): Promise<SecretVersion> {
      if (!/^[1-9]\d{0,9}$/.test(versionId)) {
        throw new SecretSourceError(
          'not_found',
          name,
          `${name}: Vault has no version "${versionId.slice(0, 40)}" (KV versions are numbers)`,
        );
      }
      const path = `${kvMount}/data/${name}?version=${encodeURIComponent(versionId)}`;
      let body: unknown;
      try {
        body = await call(name, path, signal);
      } catch (error) {
        if (error instanceof VaultHttpError && error.status === 404) {
          throw new SecretSourceError(
            'not_found',
            name,
            `${name}: ${kvMount}/data/${name} version ${versionId} is deleted, destroyed or gone from Vault`,
          );
        }
        throw toVaultSourceError(name, `${kvMount}/data/${name}`, vault.addr, error);
      }
      const data = (body as { data?: { data?: unknown } } | undefined)?.data?.data;
      if (!data || typeof data !== 'object' || Array.isArray(data)) {
        throw new SecretSourceError(
          'invalid',
          name,
          `${name}: ${kvMount}/data/${name} version ${versionId} holds no fields; write the secret's fields with vault kv put`,
        );
      }
      return {
        name,
        arn: `${vault.addr}/v1/${kvMount}/data/${name}`,
        versionId,
        stages: lastLabels.get(name)?.get(versionId) ?? [],
        secretString: new SecretValue(JSON.stringify(data)),
      };
    },
    settled: () => session.settled(),
    close() {
      return session.close().finally(() => vault.close());
    },
  };
}

/** Secrets Manager's view of a KV v2 `metadata` answer. */
export function descriptionOf(name: string, arn: string, body: unknown): SecretDescription {
  const meta = ((body as { data?: KvMetadata } | undefined)?.data ?? {}) as KvMetadata;
  const current = meta.current_version;
  const versions = new Map<string, readonly string[]>();
  const revoked = new Set<string>();
  const readable: number[] = [];
  for (const [id, v] of Object.entries(meta.versions ?? {})) {
    if (v.destroyed === true || (typeof v.deletion_time === 'string' && v.deletion_time !== ''))
      revoked.add(id);
    else readable.push(Number(id));
  }
  if (typeof current === 'number' && current > 0) {
    if (revoked.has(String(current))) {
      throw new SecretSourceError(
        'invalid',
        name,
        `the current version (${current}) of ${name} is deleted or destroyed in Vault; undelete it or write a new version (vault kv put)`,
      );
    }
    versions.set(String(current), [STAGE.current]);
    const previous = readable.filter((v) => v < current).sort((a, b) => b - a)[0];
    if (previous !== undefined) versions.set(String(previous), [STAGE.previous]);
  }
  return { name, arn, versions, revoked };
}

function loginError(name: string, how: string, addr: string, error: unknown): SecretSourceError {
  if (error instanceof VaultHttpError && error.status === 404) {
    // No such auth mount (in this namespace): a setting, not a missing secret.
    return sourceError(
      'access_denied',
      name,
      `Vault at ${addr} has no auth method where opsbot logs in (${how}): check OPSBOT_VAULT_AUTH_MOUNT and OPSBOT_VAULT_NAMESPACE (README.md, "Secrets from Vault")`,
      { cause: error },
    );
  }
  if (error instanceof VaultHttpError && error.status >= 400 && error.status < 500 && error.status !== 429) {
    return sourceError(
      'access_denied',
      name,
      `Vault at ${addr} refused opsbot's ${how}${error.errors.length ? `: ${error.errors.join('; ')}` : ''}. Check that the role exists and is bound to opsbot's identity (README.md, "Secrets from Vault")`,
      { cause: error },
    );
  }
  if (error instanceof VaultLoginSetupError) {
    return sourceError('access_denied', name, `Vault login (${how}): ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof VaultHttpError || error instanceof VaultUnreachableError) {
    return toVaultSourceError(name, `login (${how})`, addr, error);
  }
  // The AWS SDK found no credentials to sign with (or they expired): opsbot's own identity, passing.
  const err = error as Error;
  return sourceError(
    'transient',
    name,
    `Vault login (${how}) could not be signed: ${err.name ?? 'Error'}: ${String(err.message).slice(0, 200)}; serving the last good value`,
    { cause: error },
  );
}

/**
 * What a Vault failure means to the provider: sealed, unreachable, 5xx and 429 are passing (the last
 * good value keeps serving); 403 is a policy without the capability (named); 404 is "not configured".
 */
export function toVaultSourceError(
  name: string,
  path: string,
  addr: string,
  error: unknown,
): SecretSourceError {
  if (error instanceof SecretSourceError) return error;
  if (error instanceof VaultUnreachableError) {
    return sourceError(
      'transient',
      name,
      `Vault at ${addr} did not answer on ${path} (${error.reason}); serving the last good value and retrying`,
      { cause: error },
    );
  }
  if (error instanceof VaultHttpError) {
    const said = error.errors.length ? ` (${error.errors.join('; ')})` : '';
    if (error.status === 404) {
      return sourceError(
        'not_found',
        name,
        `${path} does not exist in Vault (the integration is not configured); write it with vault kv put`,
        { cause: error },
      );
    }
    if (error.status === 403) {
      return sourceError(
        'access_denied',
        name,
        `Vault denied ${path}${said}: opsbot's policy needs the "read" capability on ${path.replace(/\?.*$/, '')} (README.md, "Secrets from Vault")`,
        { cause: error },
      );
    }
    if (error.status === 503) {
      return sourceError(
        'transient',
        name,
        `Vault at ${addr} is sealed or in standby${said}; serving the last good value and retrying`,
        { cause: error },
      );
    }
    if (error.status === 429 || error.status >= 500) {
      return sourceError(
        'transient',
        name,
        `Vault at ${addr} answered ${error.status} on ${path}${said}; serving the last good value and retrying`,
        { cause: error },
      );
    }
    return sourceError('invalid', name, `Vault answered ${error.status} on ${path}${said}`, {
      cause: error,
    });
  }
  return sourceError(
    'transient',
    name,
    `Vault call ${path} failed: ${String((error as Error)?.message ?? error).slice(0, 200)}`,
    { cause: error },
  );
}

/** A {@link SecretSourceError} whose message names the secret first (as every source's does). */
function sourceError(
  kind: SecretSourceError['kind'],
  name: string,
  message: string,
  options?: { cause?: unknown },
): SecretSourceError {
  return new SecretSourceError(
    kind,
    name,
    message.startsWith(name) ? message : `${name}: ${message}`,
    options,
  );
}
