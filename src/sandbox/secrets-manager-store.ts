import { randomBytes, randomUUID } from 'node:crypto';

/** The three labels Secrets Manager manages itself. */
export const CURRENT = 'AWSCURRENT';
export const PENDING = 'AWSPENDING';
export const PREVIOUS = 'AWSPREVIOUS';

/** An error in Secrets Manager's terms: `type` is the `__type` AWS answers with. */
export class SecretsManagerError extends Error {
  constructor(
    readonly type:
      | 'ResourceNotFoundException'
      | 'ResourceExistsException'
      | 'InvalidParameterException'
      | 'InvalidRequestException',
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

export interface StoredVersion {
  id: string;
  /** Undefined for the version RotateSecret records before the rotation function's createSecret stores one. */
  value: string | undefined;
  stages: Set<string>;
  createdAt: number;
  /** The ClientRequestToken that created it, for idempotent retries. */
  token: string;
}

/** A version that holds a value (what GetSecretValue can return). */
export type ValuedVersion = StoredVersion & { value: string };

export interface StoredSecret {
  name: string;
  arn: string;
  createdAt: number;
  lastChangedAt: number;
  lastRotatedAt: number | undefined;
  versions: Map<string, StoredVersion>;
  /** RotateSecret's configuration: on once a rotation function and rules were given. */
  rotation: RotationConfig | undefined;
  nextRotationAt: number | undefined;
  /** The day (00:00 UTC) of the last GetSecretValue, as AWS reports LastAccessedDate. */
  lastAccessedAt: number | undefined;
  tags: Map<string, string>;
}

export interface RotationConfig {
  lambdaArn: string;
  rules: { AutomaticallyAfterDays?: number; ScheduleExpression?: string; Duration?: string };
}

export type StageChange = { name: string; versionId: string; stages: string[] };

/** Versions without a label are deprecated; AWS deletes them eventually, we keep at most this many. */
const MAX_DEPRECATED = 100;
const NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/**
 * The state of a simulated Secrets Manager: secrets, their versions and staging labels, with AWS's
 * rules for moving labels (AWSCURRENT moving away leaves AWSPREVIOUS behind). No I/O.
 */
export class SecretsManagerStore {
  readonly #secrets = new Map<string, StoredSecret>();
  readonly #listeners = new Set<(change: StageChange) => void>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly region = 'us-east-1',
    private readonly account = '123456789012',
  ) {}

  /** Subscribes to label moves; returns the unsubscribe function. */
  onStageChange(listener: (change: StageChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  create(
    name: string,
    value: string,
    token: string = randomUUID(),
  ): { secret: StoredSecret; version: StoredVersion } {
    if (!NAME.test(name)) throw new SecretsManagerError('InvalidParameterException', 'Invalid name.');
    if (this.#secrets.has(name)) {
      throw new SecretsManagerError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const at = this.now();
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const suffix = [...randomBytes(6)].map((b) => letters[b % letters.length]).join('');
    const secret: StoredSecret = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:${this.account}:secret:${name}-${suffix}`,
      createdAt: at,
      lastChangedAt: at,
      lastRotatedAt: undefined,
      versions: new Map(),
      rotation: undefined,
      nextRotationAt: undefined,
      lastAccessedAt: undefined,
      tags: new Map(),
    };
    this.#secrets.set(name, secret);
    const version = this.#addVersion(secret, value, token, [CURRENT]);
    return { secret, version };
  }

  /** By name or ARN. */
  find(id: string): StoredSecret {
    const secret = this.#secrets.get(id) ?? [...this.#secrets.values()].find((s) => s.arn === id);
    if (!secret) {
      throw new SecretsManagerError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    }
    return secret;
  }

  names(): string[] {
    return [...this.#secrets.keys()];
  }

  /** GetSecretValue: by version id, by stage, or both (they must agree); AWSCURRENT by default. */
  get(
    id: string,
    options: { versionId?: string; stage?: string } = {},
  ): { secret: StoredSecret; version: ValuedVersion } {
    const secret = this.find(id);
    const stage = options.stage ?? (options.versionId ? undefined : CURRENT);
    const version = options.versionId
      ? secret.versions.get(options.versionId)
      : [...secret.versions.values()].find((v) => v.stages.has(stage as string));
    if (!version || version.value === undefined || (stage && !version.stages.has(stage))) {
      const what = options.versionId ? `VersionId: ${options.versionId}` : `staging label: ${stage}`;
      throw new SecretsManagerError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${what}`,
      );
    }
    return { secret, version: version as ValuedVersion };
  }

  /** PutSecretValue: a new version carrying `stages` (AWSCURRENT by default); idempotent per token. */
  put(id: string, value: string, options: { stages?: string[]; token?: string } = {}): StoredVersion {
    const secret = this.find(id);
    const token = options.token ?? randomUUID();
    const existing = [...secret.versions.values()].find((v) => v.token === token);
    if (existing && existing.value === undefined) {
      // The version RotateSecret recorded: createSecret's PutSecretValue gives it its value.
      existing.value = value;
      for (const stage of new Set(options.stages ?? [])) this.#attach(secret, existing.id, stage);
      secret.lastChangedAt = this.now();
      return existing;
    }
    if (existing) {
      if (existing.value !== value) {
        throw new SecretsManagerError(
          'ResourceExistsException',
          'You can’t modify an existing version, you can only create a new version.',
        );
      }
      return existing;
    }
    const stages = options.stages && options.stages.length > 0 ? options.stages : [CURRENT];
    return this.#addVersion(secret, value, token, stages);
  }

  /**
   * What RotateSecret records before it invokes the rotation function: version `token` with
   * AWSPENDING and no value (unless a version with that id exists: a person's AWSPENDING).
   */
  recordPending(id: string, token: string): StoredVersion {
    const secret = this.find(id);
    const existing = secret.versions.get(token);
    if (existing) {
      if (!existing.stages.has(CURRENT)) this.#attach(secret, token, PENDING);
      return existing;
    }
    const version: StoredVersion = {
      id: token,
      value: undefined,
      stages: new Set(),
      createdAt: this.now(),
      token,
    };
    secret.versions.set(token, version);
    this.#attach(secret, token, PENDING);
    return version;
  }

  /** UpdateSecretVersionStage, with AWS's checks. */
  updateStage(id: string, stage: string, moveTo?: string, removeFrom?: string): void {
    const secret = this.find(id);
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
    if (moveTo !== undefined && !secret.versions.has(moveTo)) {
      throw new SecretsManagerError('InvalidParameterException', `The version ${moveTo} does not exist.`);
    }
    if (removeFrom !== undefined && holder?.id !== removeFrom) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        `The staging label ${stage} is not attached to version ${removeFrom}.`,
      );
    }
    if (moveTo === undefined) {
      if (removeFrom === undefined) {
        throw new SecretsManagerError(
          'InvalidParameterException',
          'Specify MoveToVersionId or RemoveFromVersionId.',
        );
      }
      if (stage === CURRENT) {
        throw new SecretsManagerError(
          'InvalidParameterException',
          'You can only remove AWSCURRENT by moving it to another version (MoveToVersionId).',
        );
      }
      this.#label(secret, removeFrom, stage, false);
      return;
    }
    if (holder && holder.id !== moveTo && removeFrom === undefined) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    this.#attach(secret, moveTo, stage);
  }

  /** Attaches `stage` to version `to`, taking it from whoever has it (AWSCURRENT leaves AWSPREVIOUS behind). */
  #attach(secret: StoredSecret, to: string, stage: string): void {
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
    if (holder?.id === to) return;
    if (holder) this.#label(secret, holder.id, stage, false);
    if (stage === CURRENT && holder) {
      const previous = [...secret.versions.values()].find((v) => v.stages.has(PREVIOUS));
      if (previous) this.#label(secret, previous.id, PREVIOUS, false);
      this.#label(secret, holder.id, PREVIOUS, true);
    }
    this.#label(secret, to, stage, true);
    secret.lastChangedAt = this.now();
    this.#prune(secret);
  }

  #label(secret: StoredSecret, versionId: string, stage: string, on: boolean): void {
    const version = secret.versions.get(versionId);
    if (!version) return;
    if (on) version.stages.add(stage);
    else version.stages.delete(stage);
    for (const listener of this.#listeners) {
      listener({ name: secret.name, versionId, stages: [...version.stages] });
    }
  }

  #addVersion(
    secret: StoredSecret,
    value: string | undefined,
    token: string,
    stages: string[],
  ): StoredVersion {
    const version: StoredVersion = { id: token, value, stages: new Set(), createdAt: this.now(), token };
    secret.versions.set(version.id, version);
    for (const stage of new Set(stages)) this.#attach(secret, version.id, stage);
    secret.lastChangedAt = this.now();
    return version;
  }

  #prune(secret: StoredSecret): void {
    const deprecated = [...secret.versions.values()].filter((v) => v.stages.size === 0);
    for (const v of deprecated.slice(0, Math.max(0, deprecated.length - MAX_DEPRECATED))) {
      secret.versions.delete(v.id);
    }
  }
}
