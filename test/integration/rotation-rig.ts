import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { expect } from 'vitest';
import type { AnyIntegration } from '../../src/integrations/integration.js';
import { createRotationHandler } from '../../src/rotation/lambda.js';
import type { StepOutcome } from '../../src/rotation/steps.js';
import { ROTATION_STEPS, type RotationStep } from '../../src/rotation/steps.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import type { Moto } from '../helpers/moto.js';

const CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' };

/**
 * The rotation function against moto's Secrets Manager, driven step by step as Secrets Manager
 * drives it. moto 5.2 is not AWS here, and the rig models AWS where the steps depend on it:
 *
 * - AWS's RotateSecret (with a rotation function) records the ClientRequestToken as a version with
 *   the AWSPENDING label and no value before it invokes createSecret; moto's RotateSecret without a
 *   Lambda it can run instead makes a new AWSCURRENT at once. So {@link startRotation} does what
 *   AWS does on DescribeSecret's side: the function's client sees the token as AWSPENDING (a
 *   middleware on that client's DescribeSecret answers) until a real version with that id exists;
 *   GetSecretValue of it is moto's ResourceNotFoundException, as AWS's is for the valueless version.
 * - moto reports RotationEnabled only after RotateSecret with RotationRules; {@link putSecret} turns
 *   rotation on that way (moto then copies the value to a new AWSCURRENT version, with no Lambda).
 */
export class RotationRig {
  readonly admin: SecretsManagerClient;
  readonly client: SecretsManagerClient;
  readonly prefix = `r-${randomUUID().slice(0, 8)}/`;
  readonly logs: LogCapture = captureLogs();
  /** secret name → the token AWS's RotateSecret would have recorded as AWSPENDING. */
  readonly #rotating = new Map<string, string>();

  constructor(readonly moto: Moto) {
    const config = { endpoint: moto.url, region: 'us-east-1', credentials: CREDENTIALS };
    this.admin = new SecretsManagerClient(config);
    this.client = new SecretsManagerClient(config);
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'DescribeSecretCommand') {
          this.#asAwsWouldDescribe(result.output as DescribeSecretCommandOutput);
        }
        return result;
      },
      { step: 'initialize', name: 'awsRotateSecretPendingVersion' },
    );
  }

  /** The rotation function, as Lambda would run it, with these endpoints. */
  handler(
    env: Record<string, string> = {},
    options: { integrations?: readonly AnyIntegration[] } = {},
  ): (event: unknown) => Promise<StepOutcome> {
    return createRotationHandler({
      client: this.client,
      env: { OPSBOT_SECRET_PREFIX: this.prefix, ...env },
      log: this.logs.log,
      redactor: this.logs.redactor,
      ...(options.integrations ? { integrations: options.integrations } : {}),
    });
  }

  /** Creates `<prefix><name>` with `value` and rotation on (every 30 days). */
  async putSecret(name: string, value: unknown, options: { rotation?: boolean } = {}): Promise<string> {
    const id = `${this.prefix}${name}`;
    await this.admin.send(new CreateSecretCommand({ Name: id, SecretString: JSON.stringify(value) }));
    if (options.rotation !== false) {
      await this.admin.send(
        new RotateSecretCommand({
          SecretId: id,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: false,
        }),
      );
    }
    return id;
  }

  /** What RotateSecret does before createSecret: a new token, recorded as AWSPENDING. */
  startRotation(id: string, token: string = randomUUID()): string {
    this.#rotating.set(id, token);
    return token;
  }

  /** What a person does for a person-made value: the new value as AWSPENDING; its version id. */
  async putPending(id: string, value: unknown): Promise<string> {
    // In AWS the label moves to the person's version: the valueless one RotateSecret made loses it.
    this.#rotating.delete(id);
    const token = randomUUID();
    await this.admin.send(
      new PutSecretValueCommand({
        SecretId: id,
        ClientRequestToken: token,
        SecretString: JSON.stringify(value),
        VersionStages: ['AWSPENDING'],
      }),
    );
    return token;
  }

  /** `/opsbot rotate --emergency`: the tag naming the token, set before RotateSecret. */
  async tagEmergency(id: string, token: string): Promise<void> {
    await this.admin.send(
      new TagResourceCommand({ SecretId: id, Tags: [{ Key: 'opsbot:emergency-rotation', Value: token }] }),
    );
  }

  async stages(id: string): Promise<Record<string, string[]>> {
    const out = await this.admin.send(new DescribeSecretCommand({ SecretId: id }));
    return out.VersionIdsToStages ?? {};
  }

  async versionWith(id: string, stage: string): Promise<string | undefined> {
    const stages = await this.stages(id);
    return Object.keys(stages).find((v) => stages[v]?.includes(stage));
  }

  /** A stage's value, asked by version id and stage (moto's unstaged reads may name the old version). */
  async value(id: string, stage: string): Promise<Record<string, unknown>> {
    const versionId = await this.versionWith(id, stage);
    const out = await this.admin.send(
      new GetSecretValueCommand({
        SecretId: id,
        VersionStage: stage,
        ...(versionId ? { VersionId: versionId } : {}),
      }),
    );
    return JSON.parse(out.SecretString ?? '{}') as Record<string, unknown>;
  }

  /** Runs the four steps in order, as Secrets Manager does. */
  async rotate(
    handler: (event: unknown) => Promise<StepOutcome>,
    id: string,
    token: string,
    steps: readonly RotationStep[] = ROTATION_STEPS,
  ): Promise<StepOutcome[]> {
    const outcomes: StepOutcome[] = [];
    for (const step of steps) {
      outcomes.push(await handler({ SecretId: id, ClientRequestToken: token, Step: step }));
    }
    return outcomes;
  }

  destroy(): void {
    this.admin.destroy();
    this.client.destroy();
  }

  #asAwsWouldDescribe(out: DescribeSecretCommandOutput): void {
    const token = out.Name ? this.#rotating.get(out.Name) : undefined;
    const versions = out.VersionIdsToStages;
    if (!token || !versions || token in versions) return;
    for (const [id, stages] of Object.entries(versions)) {
      versions[id] = stages.filter((s) => s !== 'AWSPENDING');
    }
    versions[token] = ['AWSPENDING'];
  }
}

/** Calls `fn` and returns what it threw (fails the test if it did not throw). */
export async function thrown(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure, and the call succeeded');
}

/** What `promise` rejected with, which must be an Error (fails the test if it resolved). */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await thrown(() => promise);
  expect(error).toBeInstanceOf(Error);
  return error;
}
