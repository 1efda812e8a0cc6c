import { parseSecret, type SecretSpec, sensitiveValues } from '../credentials/secret-spec.js';
import { STAGE } from '../credentials/source.js';
import { SecretValue } from '../log/secret-value.js';
import type { Logger, SecretRedactor } from '../log.js';
import { RotationRefusedError, RotationStepError } from './errors.js';
import {
  type RotationContext,
  type RotationEndpoints,
  type RotationKind,
  RotationNeedsPersonError,
} from './kind.js';
import { type RotatingSecret, type RotationSecretStore, versionWith } from './secret-store.js';
import { EMERGENCY_TAG } from './tags.js';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/**
 * The tag `/opsbot rotate --emergency` (or a leak) sets on the secret before it calls RotateSecret:
 * its value is the ClientRequestToken of the emergency rotation.
 */
export { EMERGENCY_TAG };

/** What a step did: for the log line and the caller. */
export type StepOutcome =
  | 'created'
  | 'pending-kept'
  | 'set'
  | 'tested'
  | 'promoted'
  /** The token's version is already AWSCURRENT: nothing (finishSecret completes its tail). */
  | 'already-current';

export interface StepDeps {
  store: RotationSecretStore;
  /** Rotation kinds by secret short name (`github`), from {@link rotationKinds}. */
  kinds: ReadonlyMap<string, RotationKind>;
  /** `OPSBOT_SECRET_PREFIX` (`opsbot/`). */
  prefix: string;
  endpoints: RotationEndpoints;
  log: Logger;
  /** Every value loaded or made is registered here, so no log line can show it. */
  redactor: SecretRedactor;
  now(): number;
}

export interface StepRequest {
  /** The secret's name or ARN, as Secrets Manager sends it. */
  secretId: string;
  /** ClientRequestToken: the id of the version being made. */
  token: string;
  step: RotationStep;
}

/**
 * One step of Secrets Manager's rotation contract for an opsbot secret, following AWS's rotation
 * template: DescribeSecret first; refuse when rotation is not enabled, when the token is not a
 * version of the secret, or when it is neither AWSCURRENT nor AWSPENDING; a token already AWSCURRENT
 * means the rotation is done. Every step is safe to run again for the same token. Values are parsed
 * by the kind's spec and never reach a log line or an error.
 */
export async function runRotationStep(request: StepRequest, deps: StepDeps): Promise<StepOutcome> {
  const { store, log } = deps;
  const secret = await store.describe(request.secretId);
  const name = shortName(secret.name, deps.prefix);
  const kind = deps.kinds.get(name);
  if (!kind) {
    throw new RotationRefusedError(
      `opsbot has no rotation for ${secret.name}: it rotates ${[...deps.kinds.keys()].map((k) => `${deps.prefix}${k}`).join(', ')}`,
    );
  }
  if (!secret.rotationEnabled) {
    throw new RotationRefusedError(
      `rotation is not enabled for ${secret.name}: turn it on with this function (aws secretsmanager rotate-secret --secret-id ${secret.name} --rotation-lambda-arn <this function> --rotation-rules …) before rotating it`,
    );
  }
  const stages = secret.versions.get(request.token);
  if (!stages) {
    throw new RotationRefusedError(
      `version ${request.token} has no stage for rotation of ${secret.name}: start the rotation with RotateSecret (/opsbot rotate ${name})`,
    );
  }
  const emergency = secret.tags.get(EMERGENCY_TAG) === request.token;
  const ctx = contextFor(name, request.token, emergency, deps);
  const at = { secret: secret.name, step: request.step, token: request.token, emergency };
  if (stages.includes(STAGE.current)) {
    if (request.step === 'finishSecret') await finishTail(secret, kind, ctx, deps);
    log.info({ ...at, outcome: 'already-current' }, 'rotation step: the version is already AWSCURRENT');
    return 'already-current';
  }
  if (!stages.includes(STAGE.pending)) {
    throw new RotationRefusedError(
      `version ${request.token} of ${secret.name} is not AWSPENDING (it is ${stages.join(', ') || 'unlabelled'}): start a new rotation`,
    );
  }
  const steps: Record<RotationStep, () => Promise<StepOutcome>> = {
    createSecret: () => createSecret(secret, kind, ctx, deps),
    setSecret: async () => {
      const [pending, current] = await Promise.all([
        readPending(secret, kind, ctx, deps),
        readCurrent(secret, kind, deps),
      ]);
      await kind.set?.(pending, current, ctx);
      return 'set';
    },
    testSecret: async () => {
      await kind.test(await readPending(secret, kind, ctx, deps), ctx);
      return 'tested';
    },
    finishSecret: () => finishSecret(secret, kind, ctx, deps),
  };
  const outcome = await steps[request.step]();
  log.info({ ...at, outcome }, `rotation step ${request.step}: ${outcome}`);
  return outcome;
}

/** `github` for `opsbot/github`; a secret outside the prefix is not opsbot's. */
export function shortName(fullName: string, prefix: string): string {
  if (!fullName.startsWith(prefix)) {
    throw new RotationRefusedError(
      `${fullName} is not an opsbot secret: its name does not start with OPSBOT_SECRET_PREFIX (${prefix || 'empty'})`,
    );
  }
  return fullName.slice(prefix.length);
}

async function createSecret<S>(
  secret: RotatingSecret,
  kind: RotationKind<S>,
  ctx: RotationContext,
  deps: StepDeps,
): Promise<StepOutcome> {
  const currentText = await deps.store.value(secret.arn, { stage: STAGE.current });
  if (!currentText) {
    throw new RotationStepError(
      `${secret.name} has no AWSCURRENT value: put its first value (aws secretsmanager put-secret-value --secret-id ${secret.name} --secret-string file://value.json) before rotating it`,
    );
  }
  const pendingText = await deps.store.value(secret.arn, { stage: STAGE.pending, versionId: ctx.token });
  if (pendingText) {
    // A person put it, or an earlier run of this step did: keep it, once it has the secret's shape.
    parseValue(kind, pendingText, `AWSPENDING version of ${secret.name}`, deps.redactor);
    return 'pending-kept';
  }
  const current = parseValue(kind, currentText, `AWSCURRENT version of ${secret.name}`, deps.redactor);
  if (!kind.automatic(current) || !kind.create) {
    throw new RotationNeedsPersonError(secret.name, kind.personMakes ?? `${kind.spec.title} value`);
  }
  const made = await kind.create(current, ctx);
  const text = new SecretValue(JSON.stringify(made));
  // What the kind made must read back as the secret it replaces, before anything stores it.
  parseValue(kind, text, `new value made for ${secret.name}`, deps.redactor);
  await deps.store.put(secret.arn, ctx.token, text, [STAGE.pending]);
  return 'created';
}

async function finishSecret<S>(
  secret: RotatingSecret,
  kind: RotationKind<S>,
  ctx: RotationContext,
  deps: StepDeps,
): Promise<StepOutcome> {
  const currentId = versionWith(secret, STAGE.current);
  // Read before the move, while the labels still say which is which (retire needs both values).
  const [previous, current] = kind.retire
    ? await Promise.all([
        currentId ? readVersion(secret, kind, currentId, STAGE.current, deps) : undefined,
        readPending(secret, kind, ctx, deps),
      ])
    : [undefined, undefined];
  // The emergency label goes on first: the bot heeds it only on AWSCURRENT, so from the moment the
  // new version is current it is the only one accepted, with no window in between.
  if (ctx.emergency) await moveLabel(secret, STAGE.emergency, ctx.token, deps);
  await deps.store.moveStage(secret.arn, STAGE.current, {
    to: ctx.token,
    ...(currentId ? { from: currentId } : {}),
  });
  await deps.store.moveStage(secret.arn, STAGE.pending, { from: ctx.token });
  if (previous !== undefined && current !== undefined) await kind.retire?.(previous, current, ctx);
  return 'promoted';
}

/**
 * finishSecret run again once the token is AWSCURRENT (a retry after a failure past the move):
 * what follows the move is done again, each part idempotent: the emergency label, AWSPENDING off the
 * new version, and `retire` of AWSPREVIOUS.
 */
async function finishTail<S>(
  secret: RotatingSecret,
  kind: RotationKind<S>,
  ctx: RotationContext,
  deps: StepDeps,
): Promise<void> {
  if (ctx.emergency) await moveLabel(secret, STAGE.emergency, ctx.token, deps);
  if (secret.versions.get(ctx.token)?.includes(STAGE.pending)) {
    await deps.store.moveStage(secret.arn, STAGE.pending, { from: ctx.token });
  }
  const previousId = versionWith(secret, STAGE.previous);
  if (!kind.retire || !previousId || previousId === ctx.token) return;
  const [previous, current] = await Promise.all([
    readVersion(secret, kind, previousId, STAGE.previous, deps),
    readVersion(secret, kind, ctx.token, STAGE.current, deps),
  ]);
  await kind.retire(previous, current, ctx);
}

/** Puts `label` on version `to`, taking it off the version that holds it (AWS requires naming it). */
async function moveLabel(secret: RotatingSecret, label: string, to: string, deps: StepDeps): Promise<void> {
  const holder = versionWith(secret, label);
  if (holder === to) return;
  await deps.store.moveStage(secret.arn, label, { to, ...(holder ? { from: holder } : {}) });
}

async function readPending<S>(
  secret: RotatingSecret,
  kind: RotationKind<S>,
  ctx: RotationContext,
  deps: StepDeps,
): Promise<S> {
  return readVersion(secret, kind, ctx.token, STAGE.pending, deps);
}

async function readCurrent<S>(secret: RotatingSecret, kind: RotationKind<S>, deps: StepDeps): Promise<S> {
  const id = versionWith(secret, STAGE.current);
  if (!id) throw new RotationStepError(`${secret.name} has no AWSCURRENT version`);
  return readVersion(secret, kind, id, STAGE.current, deps);
}

async function readVersion<S>(
  secret: RotatingSecret,
  kind: RotationKind<S>,
  versionId: string,
  stage: string,
  deps: StepDeps,
): Promise<S> {
  const text = await deps.store.value(secret.arn, { stage, versionId });
  if (!text) {
    throw new RotationStepError(
      stage === STAGE.pending
        ? `${secret.name} has no AWSPENDING value for version ${versionId}: run createSecret first (RotateSecret does)`
        : `${secret.name} has no ${stage} value for version ${versionId}`,
    );
  }
  return parseValue(kind, text, `${stage} version of ${secret.name}`, deps.redactor);
}

/** Parses a value by the kind's spec, registering its secret fields with the redactor first. */
function parseValue<S>(
  kind: RotationKind<S>,
  text: SecretValue<string>,
  what: string,
  redactor: SecretRedactor,
): S {
  registerSensitive(kind.spec, text, redactor);
  const parsed = parseSecret(kind.spec, text.reveal());
  if (parsed.ok) return parsed.value;
  throw new RotationStepError(
    `the ${what} is not a valid ${kind.spec.name} secret (${parsed.problems.join('; ')}): correct it as README "Secret shapes" describes, then rotate again`,
  );
}

function registerSensitive(spec: SecretSpec, text: SecretValue<string>, redactor: SecretRedactor): void {
  redactor.register(text.reveal());
  let data: unknown;
  try {
    data = JSON.parse(text.reveal());
  } catch {
    return;
  }
  for (const value of sensitiveValues(spec, data)) redactor.register(value);
}

function contextFor(name: string, token: string, emergency: boolean, deps: StepDeps): RotationContext {
  return {
    name,
    token,
    emergency,
    endpoints: deps.endpoints,
    log: deps.log.child({ secret: name }),
    now: deps.now,
    async readSecret<T>(spec: SecretSpec<T>): Promise<T | undefined> {
      if (deps.kinds.has(spec.name)) {
        throw new RotationStepError(
          `a rotation may not read ${deps.prefix}${spec.name}: it is one of the bot's own secrets`,
        );
      }
      const secretName = `${deps.prefix}${spec.name}`;
      const text = await deps.store.value(secretName, { stage: STAGE.current });
      if (!text) return undefined;
      registerSensitive(spec, text, deps.redactor);
      const parsed = parseSecret(spec, text.reveal());
      if (parsed.ok) return parsed.value;
      throw new RotationStepError(
        `${secretName} is not a valid ${spec.name} secret (${parsed.problems.join('; ')}): correct it, then rotate again`,
      );
    },
  };
}
