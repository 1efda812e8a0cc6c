import { createHash, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';

/**
 * The simulated cluster behind the simulated Vault's Kubernetes auth method: it mints projected
 * service-account tokens (RS256 JWTs signed by a key made at construction) and verifies them as
 * vault-plugin-auth-kubernetes does with the cluster's public key configured: signature, `exp` on
 * the injected clock, `iss`, and `sub` = `system:serviceaccount:<namespace>:<name>` agreeing with
 * the `kubernetes.io` claims; then the role's service-account names and namespaces (globs `*`).
 */

export const K8S_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface KubernetesRole {
  serviceAccountNames: string[];
  namespaces: string[];
  policies: string[];
  ttlSeconds?: number;
  maxTtlSeconds?: number;
}

export interface ServiceAccount {
  namespace: string;
  name: string;
  uid: string;
}

/** Why a login is refused: the HTTP status and Vault's error text. */
export class LoginRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'LoginRefused';
  }
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function uidOf(namespace: string, name: string): string {
  const h = createHash('sha256').update(`${namespace}/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function globMatch(patterns: string[], value: string): boolean {
  return patterns.some(
    (p) => p === '*' || p === value || (p.endsWith('*') && value.startsWith(p.slice(0, -1))),
  );
}

export class SimulatedCluster {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #kid: string;
  readonly #now: () => number;

  constructor(now: () => number) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
    this.#kid = createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64url')
      .slice(0, 43);
    this.#now = now;
  }

  mint(sa: { namespace: string; name: string; expiresInSeconds?: number }): string {
    const iat = Math.floor(this.#now() / 1_000);
    const header = { alg: 'RS256', kid: this.#kid, typ: 'JWT' };
    const payload = {
      aud: [K8S_ISSUER],
      exp: iat + (sa.expiresInSeconds ?? 3_600),
      iat,
      nbf: iat,
      iss: K8S_ISSUER,
      'kubernetes.io': {
        namespace: sa.namespace,
        pod: {
          name: `opsbot-${uidOf(sa.namespace, 'pod').slice(0, 5)}`,
          uid: uidOf(sa.namespace, `pod/${sa.name}`),
        },
        serviceaccount: { name: sa.name, uid: uidOf(sa.namespace, sa.name) },
      },
      sub: `system:serviceaccount:${sa.namespace}:${sa.name}`,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), this.#privateKey))}`;
  }

  /** The service account a JWT proves, or a refusal in Vault's words. */
  verify(jwt: string): ServiceAccount {
    const parts = jwt.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^[\w-]*$/.test(p))) {
      throw new LoginRefused(403, 'failed to parse JWT: malformed token');
    }
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: unknown };
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new LoginRefused(403, 'failed to parse JWT: malformed token');
    }
    if (header.alg !== 'RS256') {
      throw new LoginRefused(
        403,
        `token is signed with an unsupported algorithm ${JSON.stringify(header.alg)}`,
      );
    }
    if (!verify('sha256', Buffer.from(`${h}.${p}`), this.#publicKey, Buffer.from(s, 'base64url'))) {
      // Vault answers a signature failure with a plain permission denied.
      throw new LoginRefused(403, 'permission denied');
    }
    const now = Math.floor(this.#now() / 1_000);
    if (typeof claims.exp === 'number' && now >= claims.exp) throw new LoginRefused(403, 'token is expired');
    if (typeof claims.nbf === 'number' && now < claims.nbf)
      throw new LoginRefused(403, 'token not valid yet');
    if (claims.iss !== K8S_ISSUER) throw new LoginRefused(403, 'invalid issuer (iss) claim');
    const k8s = claims['kubernetes.io'] as
      | { namespace?: unknown; serviceaccount?: { name?: unknown; uid?: unknown } }
      | undefined;
    const namespace = k8s?.namespace;
    const name = k8s?.serviceaccount?.name;
    const uid = k8s?.serviceaccount?.uid;
    if (typeof namespace !== 'string' || typeof name !== 'string' || typeof uid !== 'string') {
      throw new LoginRefused(403, 'could not parse UID from claims');
    }
    if (claims.sub !== `system:serviceaccount:${namespace}:${name}`) {
      throw new LoginRefused(403, 'invalid subject (sub) claim');
    }
    return { namespace, name, uid };
  }

  /** Refuses a service account the role does not name (Vault's 403s). */
  static authorize(role: KubernetesRole, sa: ServiceAccount): void {
    if (!globMatch(role.serviceAccountNames, sa.name)) {
      throw new LoginRefused(403, 'service account name not authorized');
    }
    if (!globMatch(role.namespaces, sa.namespace)) throw new LoginRefused(403, 'namespace not authorized');
  }
}
