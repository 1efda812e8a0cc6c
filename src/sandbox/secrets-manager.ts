import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CURRENT,
  PENDING,
  type RotationConfig,
  SecretsManagerError,
  SecretsManagerStore,
  type StageChange,
  type StoredSecret,
  type StoredVersion,
} from './secrets-manager-store.js';

export type SecretsManagerApi =
  | 'CreateSecret'
  | 'GetSecretValue'
  | 'DescribeSecret'
  | 'BatchGetSecretValue'
  | 'PutSecretValue'
  | 'UpdateSecretVersionStage'
  | 'RotateSecret'
  | 'ListSecrets'
  | 'ListSecretVersionIds'
  | 'TagResource'
  | 'UntagResource';

export interface Fault {
  kind: 'throttle' | '5xx' | 'latency' | 'access_denied' | 'not_found';
  /** Only this API (all by default). */
  api?: SecretsManagerApi;
  /** Only this secret (all by default). */
  secret?: string;
  /** Only the next N matching calls (unlimited by default). */
  count?: number;
  /** For `latency`. */
  latencyMs?: number;
}

/** Makes a secret's next value from its current one (what a rotation Lambda's createSecret step does). */
export type Rotator = (current: string) => string;

/** A rotation function, as Lambda would invoke it: `{ SecretId, ClientRequestToken, Step }`. */
export type RotationFunction = (event: {
  SecretId: string;
  ClientRequestToken: string;
  Step: string;
}) => Promise<unknown>;

/** The ARN the sandbox's rotation function goes by. */
export const SANDBOX_ROTATION_LAMBDA = 'arn:aws:lambda:us-east-1:123456789012:function:opsbot-rotation';
const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
const DAY_MS = 86_400_000;

const MAX_BODY = 1_048_576;

/**
 * A simulated AWS Secrets Manager on 127.0.0.1, speaking the JSON 1.1 protocol (`X-Amz-Target:
 * secretsmanager.<Operation>`) for the operations opsbot and its tests use. The AWS SDK v3 talks to
 * it through `endpoint`; SigV4 signatures are required to be present, not checked. It counts calls
 * by API, injects faults on demand, and simulates rotation (AWSPENDING → AWSCURRENT).
 *
 * @example
 * const sm = new SimulatedSecretsManager();
 * const { url } = await sm.start();
 * sm.create('opsbot/slack', JSON.stringify({ botToken, signingSecret }));
 * sm.faults.set({ kind: 'throttle', api: 'DescribeSecret', count: 3 });
 * sm.rotate('opsbot/slack');
 */
export class SimulatedSecretsManager {
  readonly store: SecretsManagerStore;
  /** Calls received, by API name (faulted calls included). */
  calls: Partial<Record<SecretsManagerApi, number>> = {};
  readonly faults = new FaultPlan();
  readonly #rotators = new Map<string, Rotator>();
  #rotationFunction: RotationFunction | undefined;
  /** Rotations RotateSecret started, by secret name, until they end. */
  readonly #running = new Map<string, Promise<void>>();
  readonly #now: () => number;
  readonly #sockets = new Set<import('node:net').Socket>();
  #server: Server | undefined;

  constructor(options: { clock?: { now(): number } } = {}) {
    const now = options.clock ? () => options.clock?.now() ?? Date.now() : Date.now;
    this.#now = now;
    this.store = new SecretsManagerStore(now);
  }

  async start(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    this.#server = server;
    const address = server.address() as AddressInfo;
    return { url: `http://${host}:${address.port}` };
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  create(name: string, value: string): string {
    return this.store.create(name, value).version.id;
  }

  put(name: string, value: string, stages?: string[]): string {
    return this.store.put(name, value, stages ? { stages } : {}).id;
  }

  /** Staging labels by version id. */
  stagesOf(name: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const v of this.store.find(name).versions.values()) if (v.stages.size > 0) out[v.id] = [...v.stages];
    return out;
  }

  valueOf(name: string, stage = CURRENT): string | undefined {
    try {
      return this.store.get(name, { stage }).version.value;
    } catch {
      return undefined;
    }
  }

  setRotator(name: string, rotator: Rotator): void {
    this.#rotators.set(name, rotator);
  }

  /**
   * Rotates like a rotation Lambda: createSecret stages the new value as AWSPENDING, finishSecret
   * moves AWSCURRENT to it (the old version becomes AWSPREVIOUS) and removes AWSPENDING. With
   * `hold`, stops after createSecret; {@link finishRotation} completes it. Returns the new version id.
   */
  rotate(name: string, options: { hold?: boolean } = {}): string {
    const secret = this.store.find(name);
    const current = this.store.get(name).version;
    const rotator = this.#rotators.get(secret.name) ?? freshenSecretString;
    const next = this.store.put(name, rotator(current.value), { stages: [PENDING] });
    if (!options.hold) this.finishRotation(name);
    return next.id;
  }

  finishRotation(name: string): void {
    const pending = this.store.get(name, { stage: PENDING }).version;
    const current = this.store.get(name).version;
    this.store.updateStage(name, CURRENT, pending.id, current.id);
    this.store.updateStage(name, PENDING, undefined, pending.id);
    this.store.find(name).lastRotatedAt = Date.now();
  }

  /**
   * The rotation function RotateSecret invokes for secrets whose rotation is configured (the sandbox
   * injects opsbot's real one, pointed at the simulated vendors). Its steps run after RotateSecret
   * answers, as Lambda's do; a step that throws ends the rotation there.
   */
  setRotationFunction(fn: RotationFunction | undefined): void {
    this.#rotationFunction = fn;
  }

  /** Turns rotation on for a secret, as RotateSecret with RotationLambdaARN and RotationRules does. */
  configureRotation(name: string, rules: RotationConfig['rules'], lambdaArn = SANDBOX_ROTATION_LAMBDA): void {
    const secret = this.store.find(name);
    secret.rotation = { lambdaArn, rules: { ...rules } };
    secret.nextRotationAt = nextRotation(secret, this.#now());
  }

  /** Records a GetSecretValue: AWS reports the day of the last access (LastAccessedDate), not the time. */
  accessed(secret: StoredSecret): void {
    secret.lastAccessedAt = Math.floor(this.#now() / DAY_MS) * DAY_MS;
  }

  /** Resolves once the rotation RotateSecret started for `name` (if any) has ended, however it ended. */
  async rotationSettled(name: string): Promise<void> {
    await this.#running.get(this.store.find(name).name);
  }

  /**
   * RotateSecret with rotation configured: records `token` as AWSPENDING (a version without a value,
   * unless one with that id exists), answers, then runs the rotation function's four steps.
   */
  startRotation(name: string, token: string): void {
    const secret = this.store.find(name);
    const fn = this.#rotationFunction;
    if (!secret.rotation || !fn) {
      throw new SecretsManagerError(
        'InvalidRequestException',
        'No Lambda rotation function ARN is associated with this secret.',
      );
    }
    const pending = [...secret.versions.values()].find((v) => v.stages.has(PENDING));
    if (pending && pending.id !== token && !pending.stages.has(CURRENT)) {
      throw new SecretsManagerError(
        'InvalidRequestException',
        "A previous rotation isn't complete. That rotation will be reattempted.",
      );
    }
    this.store.recordPending(secret.name, token);
    const run = (async () => {
      for (const step of ROTATION_STEPS) {
        await fn({ SecretId: secret.arn, ClientRequestToken: token, Step: step });
      }
      secret.lastRotatedAt = this.#now();
      secret.nextRotationAt = nextRotation(secret, this.#now());
    })()
      .catch(() => undefined)
      .finally(() => {
        if (this.#running.get(secret.name) === run) this.#running.delete(secret.name);
      });
    this.#running.set(secret.name, run);
  }

  onStageChange(listener: (change: StageChange) => void): () => void {
    return this.store.onStageChange(listener);
  }

  resetCalls(): void {
    this.calls = {};
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const api = target.startsWith('secretsmanager.') ? (target.slice(15) as SecretsManagerApi) : undefined;
    try {
      if (req.method !== 'POST' || !api || !(api in HANDLERS)) {
        throw new HttpError(400, 'UnknownOperationException', `Unknown operation ${target.slice(0, 80)}`);
      }
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256')) {
        throw new HttpError(400, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
      }
      this.calls[api] = (this.calls[api] ?? 0) + 1;
      const input = await readJson(req);
      await this.#applyFault(api, input);
      send(res, 200, await HANDLERS[api](this, input));
    } catch (error) {
      const e = toHttpError(error);
      send(res, e.status, { __type: e.type, message: e.message }, e.type);
    }
  }

  async #applyFault(api: SecretsManagerApi, input: Input): Promise<void> {
    const fault = this.faults.take(api, typeof input.SecretId === 'string' ? input.SecretId : undefined);
    if (!fault) return;
    switch (fault.kind) {
      case 'latency':
        await new Promise((r) => setTimeout(r, fault.latencyMs ?? 1_000));
        return;
      case 'throttle':
        throw new HttpError(400, 'ThrottlingException', 'Rate exceeded');
      case '5xx':
        throw new HttpError(500, 'InternalServiceError', 'An error occurred on the server side.');
      case 'access_denied':
        throw new HttpError(
          400,
          'AccessDeniedException',
          'User: arn:aws:sts::123456789012:assumed-role/opsbot-task/1 is not authorized to perform this operation',
        );
      case 'not_found':
        throw new HttpError(
          400,
          'ResourceNotFoundException',
          "Secrets Manager can't find the specified secret.",
        );
    }
  }
}

/** Faults to inject, matched in the order they were set. */
export class FaultPlan {
  #faults: Fault[] = [];

  set(fault: Fault): void {
    this.#faults.push({ ...fault });
  }

  clear(): void {
    this.#faults = [];
  }

  take(api: SecretsManagerApi, secret: string | undefined): Fault | undefined {
    const fault = this.#faults.find(
      (f) =>
        (!f.api || f.api === api) &&
        (!f.secret || f.secret === secret) &&
        (f.count === undefined || f.count > 0),
    );
    if (fault?.count !== undefined) fault.count -= 1;
    return fault;
  }
}

type Input = Record<string, unknown>;

const HANDLERS: Record<SecretsManagerApi, (sm: SimulatedSecretsManager, input: Input) => unknown> = {
  CreateSecret(sm, input) {
    const token = optionalString(input, 'ClientRequestToken');
    const { secret, version } = sm.store.create(requiredString(input, 'Name'), secretString(input), token);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id };
  },
  GetSecretValue(sm, input) {
    const versionId = optionalString(input, 'VersionId');
    const stage = optionalString(input, 'VersionStage');
    const { secret, version } = sm.store.get(requiredString(input, 'SecretId'), {
      ...(versionId ? { versionId } : {}),
      ...(stage ? { stage } : {}),
    });
    sm.accessed(secret);
    return secretValueOf(secret, version);
  },
  DescribeSecret(sm, input) {
    const secret = sm.store.find(requiredString(input, 'SecretId'));
    return describe(secret);
  },
  BatchGetSecretValue(sm, input) {
    const ids = input.SecretIdList;
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > 20 ||
      !ids.every((i) => typeof i === 'string')
    ) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        'SecretIdList must hold 1 to 20 secret ids.',
      );
    }
    const SecretValues: unknown[] = [];
    const Errors: unknown[] = [];
    for (const id of ids as string[]) {
      try {
        const { secret, version } = sm.store.get(id);
        SecretValues.push(secretValueOf(secret, version));
      } catch (error) {
        const e = toHttpError(error);
        Errors.push({ SecretId: id, ErrorCode: e.type, Message: e.message });
      }
    }
    return { SecretValues, Errors };
  },
  PutSecretValue(sm, input) {
    const stages = input.VersionStages;
    if (stages !== undefined && (!Array.isArray(stages) || !stages.every((s) => typeof s === 'string'))) {
      throw new SecretsManagerError('InvalidParameterException', 'VersionStages must be a list of strings.');
    }
    const token = optionalString(input, 'ClientRequestToken');
    const id = requiredString(input, 'SecretId');
    const version = sm.store.put(id, secretString(input), {
      ...(stages ? { stages: stages as string[] } : {}),
      ...(token ? { token } : {}),
    });
    const secret = sm.store.find(id);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  },
  UpdateSecretVersionStage(sm, input) {
    const id = requiredString(input, 'SecretId');
    sm.store.updateStage(
      id,
      requiredString(input, 'VersionStage'),
      optionalString(input, 'MoveToVersionId'),
      optionalString(input, 'RemoveFromVersionId'),
    );
    const secret = sm.store.find(id);
    return { ARN: secret.arn, Name: secret.name };
  },
  RotateSecret(sm, input) {
    const id = requiredString(input, 'SecretId');
    const secret = sm.store.find(id);
    const lambdaArn = optionalString(input, 'RotationLambdaARN');
    const rules = rotationRules(input.RotationRules);
    if (lambdaArn || rules) {
      const current = secret.rotation;
      sm.configureRotation(
        secret.name,
        rules ?? current?.rules ?? { AutomaticallyAfterDays: 30 },
        lambdaArn ?? current?.lambdaArn ?? SANDBOX_ROTATION_LAMBDA,
      );
    }
    if (!secret.rotation) {
      // No rotation function: the sandbox's own rotator stands in for one (the console's old `:rotate`).
      return { ARN: secret.arn, Name: secret.name, VersionId: sm.rotate(id) };
    }
    if (input.RotateImmediately === false) return { ARN: secret.arn, Name: secret.name };
    const token = optionalString(input, 'ClientRequestToken') ?? randomUUID();
    sm.startRotation(secret.name, token);
    return { ARN: secret.arn, Name: secret.name, VersionId: token };
  },
  ListSecretVersionIds(sm, input) {
    const secret = sm.store.find(requiredString(input, 'SecretId'));
    const Versions = [...secret.versions.values()]
      .filter((v) => v.stages.size > 0 || input.IncludeDeprecated === true)
      .map((v) => ({
        VersionId: v.id,
        VersionStages: [...v.stages],
        CreatedDate: v.createdAt / 1_000,
        ...(secret.lastAccessedAt ? { LastAccessedDate: secret.lastAccessedAt / 1_000 } : {}),
      }));
    return { ARN: secret.arn, Name: secret.name, Versions };
  },
  TagResource(sm, input) {
    const secret = sm.store.find(requiredString(input, 'SecretId'));
    const tags = input.Tags;
    if (!Array.isArray(tags) || tags.length === 0 || tags.length > 50) {
      throw new SecretsManagerError('InvalidParameterException', 'Tags must hold 1 to 50 tags.');
    }
    for (const tag of tags as unknown[]) {
      const t = (tag ?? {}) as Record<string, unknown>;
      const key = t.Key;
      const value = t.Value;
      if (
        typeof key !== 'string' ||
        key.length === 0 ||
        key.length > 128 ||
        typeof value !== 'string' ||
        value.length > 256
      ) {
        throw new SecretsManagerError(
          'InvalidParameterException',
          'Each tag needs a Key (1-128) and a Value (0-256).',
        );
      }
      secret.tags.set(key, value);
    }
    return {};
  },
  UntagResource(sm, input) {
    const secret = sm.store.find(requiredString(input, 'SecretId'));
    const keys = input.TagKeys;
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      throw new SecretsManagerError('InvalidParameterException', 'TagKeys must be a list of strings.');
    }
    for (const key of keys as string[]) secret.tags.delete(key);
    return {};
  },
  ListSecrets(sm) {
    return { SecretList: sm.store.names().map((name) => describe(sm.store.find(name))) };
  },
};

function describe(secret: StoredSecret) {
  const VersionIdsToStages: Record<string, string[]> = {};
  for (const v of secret.versions.values()) if (v.stages.size > 0) VersionIdsToStages[v.id] = [...v.stages];
  return {
    ARN: secret.arn,
    Name: secret.name,
    RotationEnabled: secret.rotation !== undefined,
    ...(secret.rotation
      ? { RotationLambdaARN: secret.rotation.lambdaArn, RotationRules: { ...secret.rotation.rules } }
      : {}),
    CreatedDate: secret.createdAt / 1_000,
    LastChangedDate: secret.lastChangedAt / 1_000,
    ...(secret.lastRotatedAt ? { LastRotatedDate: secret.lastRotatedAt / 1_000 } : {}),
    ...(secret.lastAccessedAt ? { LastAccessedDate: secret.lastAccessedAt / 1_000 } : {}),
    ...(secret.rotation && secret.nextRotationAt ? { NextRotationDate: secret.nextRotationAt / 1_000 } : {}),
    ...(secret.tags.size > 0 ? { Tags: [...secret.tags].map(([Key, Value]) => ({ Key, Value })) } : {}),
    VersionIdsToStages,
  };
}

/** RotationRules as RotateSecret takes them; undefined when absent. */
function rotationRules(value: unknown): RotationConfig['rules'] | undefined {
  if (value === undefined) return undefined;
  const r = (value ?? {}) as Record<string, unknown>;
  const days = r.AutomaticallyAfterDays;
  const expression = r.ScheduleExpression;
  const rules: RotationConfig['rules'] = {};
  if (typeof days === 'number' && Number.isInteger(days) && days >= 1 && days <= 1000)
    rules.AutomaticallyAfterDays = days;
  else if (typeof expression === 'string' && /^(rate|cron)\(.{1,200}\)$/.test(expression))
    rules.ScheduleExpression = expression;
  else
    throw new SecretsManagerError(
      'InvalidParameterException',
      'RotationRules needs AutomaticallyAfterDays (1-1000) or a ScheduleExpression (rate(...) or cron(...)).',
    );
  if (typeof r.Duration === 'string') rules.Duration = r.Duration;
  return rules;
}

/** When the schedule rotates next, counted from the last rotation (or now); undefined for cron(). */
function nextRotation(secret: StoredSecret, now: number): number | undefined {
  const rules = secret.rotation?.rules;
  if (!rules) return undefined;
  const from = secret.lastRotatedAt ?? now;
  if (rules.AutomaticallyAfterDays) return from + rules.AutomaticallyAfterDays * DAY_MS;
  const rate = /^rate\((\d{1,4}) (hour|hours|day|days)\)$/.exec(rules.ScheduleExpression ?? '');
  if (!rate) return undefined;
  return from + Number(rate[1]) * (rate[2]?.startsWith('hour') ? 3_600_000 : DAY_MS);
}

function secretValueOf(secret: StoredSecret, version: StoredVersion) {
  return {
    ARN: secret.arn,
    Name: secret.name,
    VersionId: version.id,
    SecretString: version.value,
    VersionStages: [...version.stages],
    CreatedDate: version.createdAt / 1_000,
  };
}

/**
 * The default rotator: every string field of the JSON gets a fresh random tail of the same length,
 * keeping its prefix up to the last `-` (so `xoxb-test-canary-…` stays a canary).
 */
export function freshenSecretString(current: string): string {
  let data: unknown;
  try {
    data = JSON.parse(current);
  } catch {
    return randomBytes(16).toString('hex');
  }
  if (typeof data !== 'object' || data === null) return randomBytes(16).toString('hex');
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    out[key] =
      typeof value === 'string' && !/^-----BEGIN/.test(value) && !value.includes('@')
        ? freshen(value)
        : value;
  }
  return JSON.stringify(out);
}

function freshen(value: string): string {
  const cut = value.lastIndexOf('-') + 1;
  const tail = Math.max(8, value.length - cut);
  return `${value.slice(0, cut)}${randomBytes(Math.ceil(tail / 2))
    .toString('hex')
    .slice(0, tail)}`;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof SecretsManagerError) return new HttpError(400, error.type, error.message);
  return new HttpError(500, 'InternalServiceError', 'An error occurred on the server side.');
}

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Input> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'RequestEntityTooLargeException', 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Input;
  } catch {
    throw new HttpError(400, 'SerializationException', 'The request body is not a JSON object.');
  }
}

function requiredString(input: Input, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > 2_048) {
    throw new SecretsManagerError('InvalidParameterException', `Invalid or missing ${field}.`);
  }
  return value;
}

function optionalString(input: Input, field: string): string | undefined {
  return input[field] === undefined ? undefined : requiredString(input, field);
}

function secretString(input: Input): string {
  const value = input.SecretString;
  if (typeof value !== 'string' || value.length > 65_536) {
    throw new SecretsManagerError(
      'InvalidParameterException',
      'SecretString must be a string of at most 65536 characters.',
    );
  }
  return value;
}
