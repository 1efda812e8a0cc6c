import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { pino } from 'pino';
import { z } from 'zod';
import type { Env } from '../config.js';
import { INTEGRATIONS } from '../integrations/index.js';
import type { AnyIntegration } from '../integrations/integration.js';
import { createLogger, type Logger, SecretRedactor } from '../log.js';
import { auditRotation } from './audit.js';
import { RotationRefusedError, RotationStepError } from './errors.js';
import { type RotationKind, RotationNeedsPersonError, RotationTestError } from './kind.js';
import { rotationKinds } from './registry.js';
import { RotationSecretStore } from './secret-store.js';
import { rotationSettings } from './settings.js';
import { ROTATION_STEPS, runRotationStep, type StepOutcome } from './steps.js';
import { FAILURE_TAGS, tagValue } from './tags.js';

/** Secrets Manager's event for a rotation function (CONTRACT: "Secret rotation"). */
const eventSchema = z.object({
  SecretId: z.string().min(1).max(2048),
  ClientRequestToken: z.string().min(32).max(64),
  Step: z.enum(ROTATION_STEPS),
});
export type RotationEvent = z.input<typeof eventSchema>;

export interface RotationHandlerDeps {
  /** Secrets Manager; the Lambda's own client by default (default chain, AWS_ENDPOINT_URL_SECRETS_MANAGER). */
  client: SecretsManagerClient;
  env: Env;
  /** The integrations whose `rotation` the function performs; the production registry by default. */
  integrations?: readonly AnyIntegration[];
  /** Kinds that belong to no integration; the audit chain key's by default. */
  own?: readonly RotationKind[];
  redactor?: SecretRedactor;
  log?: Logger;
  now?: () => number;
}

/** The errors whose messages are written for an operator (no value, what to do next). */
const WRITTEN_FOR_OPERATORS = [
  RotationNeedsPersonError,
  RotationTestError,
  RotationRefusedError,
  RotationStepError,
];

/**
 * A rotation function over the given Secrets Manager client and environment. Each call runs one
 * step ({@link runRotationStep}) and logs it as a JSON line. A failure is logged and thrown again
 * with no secret value in it: registered values are masked, and the error's `cause` is not carried
 * out of the function (Lambda reports the message to Secrets Manager and CloudWatch).
 */
export function createRotationHandler(deps: RotationHandlerDeps): (event: unknown) => Promise<StepOutcome> {
  const redactor = deps.redactor ?? new SecretRedactor();
  const settings = rotationSettings(deps.env);
  const log =
    deps.log ??
    createLogger({
      level: settings.logLevel,
      redactor,
      base: { component: 'rotation' },
      // A Lambda may be frozen as soon as the handler returns: write each line before going on.
      destination: pino.destination({ dest: 1, sync: true }),
    });
  const kinds = rotationKinds(deps.integrations ?? INTEGRATIONS, deps.own ?? [auditRotation]);
  const store = new RotationSecretStore(deps.client);
  return async (event) => {
    const parsed = eventSchema.safeParse(event);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`);
      const error = new RotationRefusedError(
        `not a Secrets Manager rotation event (${problems.slice(0, 5).join('; ')}): expected { SecretId, ClientRequestToken, Step }`,
      );
      log.error({ err: error }, 'rotation event refused');
      throw error;
    }
    const { SecretId: secretId, ClientRequestToken: token, Step: step } = parsed.data;
    try {
      return await runRotationStep(
        { secretId, token, step },
        {
          store,
          kinds,
          prefix: settings.prefix,
          endpoints: settings.endpoints,
          log,
          redactor,
          now: deps.now ?? Date.now,
        },
      );
    } catch (error) {
      log.error({ err: error, secretId, step, token }, `rotation step ${step} failed`);
      const out = outgoing(error, step, secretId, redactor);
      // Why it stopped, where `/opsbot rotate` can read it (DescribeSecret has no reason of its own).
      await store
        .tag(secretId, {
          [FAILURE_TAGS.message]: tagValue(`${step}: ${out.message}`),
          [FAILURE_TAGS.token]: tagValue(token),
          [FAILURE_TAGS.at]: String((deps.now ?? Date.now)()),
        })
        .catch((tagError: unknown) =>
          log.warn({ err: tagError, secretId }, 'could not leave the failure on the secret as tags'),
        );
      throw out;
    }
  };
}

/** The error that leaves the function: an operator's sentence, masked, with no cause attached. */
function outgoing(error: unknown, step: string, secretId: string, redactor: SecretRedactor): Error {
  if (error instanceof Error && WRITTEN_FOR_OPERATORS.some((type) => error instanceof type)) {
    error.message = redactor.redact(error.message);
    error.stack = `${error.name}: ${error.message}`;
    delete error.cause;
    return error;
  }
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new RotationStepError(
    redactor.redact(`${step} for ${secretId} failed: ${name}: ${message.slice(0, 300)}`),
  );
}

let production: ((event: unknown) => Promise<StepOutcome>) | undefined;

/**
 * The Lambda entry point Secrets Manager invokes: `{ SecretId, ClientRequestToken, Step }`. Built
 * on the first call (nothing is read from the environment at import).
 */
export async function handler(event: unknown): Promise<void> {
  production ??= createRotationHandler({ client: new SecretsManagerClient({}), env: process.env });
  await production(event);
}
