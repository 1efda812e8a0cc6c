import { type DestinationStream, pino } from 'pino';
import { type Clock, systemClock } from '../clock.js';
import type { Env } from '../config.js';
import { ConfigError } from '../errors.js';
import { createLogger, LOG_LEVELS, type Logger, SecretRedactor } from '../log.js';
import { type HttpApiResult, resultOf, webhookRequestOf } from './event.js';
import {
  type IntakeRuntime,
  type IntakeRuntimeDeps,
  IntakeStoreUnavailableError,
  openIntakeRuntime,
} from './runtime.js';

export type { HttpApiEvent, HttpApiResult } from './event.js';

export interface IntakeHandlerDeps {
  /** `process.env` in production; the AWS SDK reads its own variables (`AWS_ENDPOINT_URL_*`) from the process. */
  env: Env;
  clock?: Clock;
  /** Where JSON log lines go; stdout, written synchronously, by default. */
  logDestination?: DestinationStream;
  /**
   * Opens what the handler keeps, at the first webhook: {@link openIntakeRuntime} (the DynamoDB
   * State and the secrets `env` names) unless given; the console passes `intakeRuntimeOn` with the
   * bot's own State and credential provider.
   */
  open?: (deps: IntakeRuntimeDeps) => Promise<IntakeRuntime>;
}

export interface IntakeHandler {
  handle(event: unknown): Promise<HttpApiResult>;
  /** Lets go of the State and the secret source (tests; a Lambda container is simply frozen). */
  close(): Promise<void>;
}

/**
 * The intake function (README.md, "Datadog alerts without a public endpoint"): `POST
 * /webhooks/datadog` from a Lambda function URL or an HTTP API, answered exactly as the bot's own
 * endpoint answers it (the webhook core is the same), storing each alert where the bot's
 * dispatcher routes and delivers it. What it keeps (the State, the secret, the core) is opened on
 * the first webhook and reused by the container's later ones; an opening that failed is tried
 * again by the next request. Neither a secret nor a body is ever logged.
 */
export function createIntakeHandler(deps: IntakeHandlerDeps): IntakeHandler {
  const clock = deps.clock ?? systemClock;
  const redactor = new SecretRedactor({ now: () => clock.now() });
  const level = LOG_LEVELS.find((l) => l === deps.env.LOG_LEVEL?.trim()) ?? 'info';
  const log: Logger = createLogger({
    level,
    redactor,
    base: { component: 'intake' },
    // A Lambda may be frozen as soon as the handler returns: each line is written before going on.
    destination: deps.logDestination ?? pino.destination({ dest: 1, sync: true }),
  });
  let opening: Promise<IntakeRuntime> | undefined;
  const runtime = (): Promise<IntakeRuntime> => {
    const open = deps.open ?? openIntakeRuntime;
    opening ??= open({ env: deps.env, clock, log, redactor }).catch((error: unknown) => {
      opening = undefined;
      throw error;
    });
    return opening;
  };

  return {
    async handle(event) {
      const mapped = webhookRequestOf(event);
      if (!mapped.ok) return mapped.result;
      let intake: IntakeRuntime;
      try {
        intake = await runtime();
      } catch (error) {
        return unavailable(log, error);
      }
      // A container whose first load failed (the source was down) tries again now, at most once
      // per few seconds however many requests come: they are answered 503 meanwhile.
      if (mapped.request.secret && !intake.provider.isLoaded('datadog'))
        await intake.provider.get('datadog').catch(() => undefined);
      return resultOf(await intake.core.handle(mapped.request));
    },
    async close() {
      const open = opening;
      opening = undefined;
      await (await open?.catch(() => undefined))?.close();
      log.flush();
    },
  };
}

/** 503 (Datadog retries) when the State or the configuration is not usable, logged without a request. */
function unavailable(log: Logger, error: unknown): HttpApiResult {
  if (error instanceof ConfigError) {
    log.error(
      { problems: error.problems },
      'the intake function is misconfigured; every webhook is answered 503',
    );
    return resultOf({ status: 503, body: { error: 'misconfigured' }, retryAfterSeconds: 60 });
  }
  log.error(
    { err: error },
    error instanceof IntakeStoreUnavailableError
      ? 'the state table is not answering; answered 503 so Datadog retries'
      : 'the intake function could not start; answered 503 so Datadog retries',
  );
  return resultOf({ status: 503, body: { error: 'store_unavailable' }, retryAfterSeconds: 5 });
}

let production: IntakeHandler | undefined;

/**
 * The Lambda entry point: a function URL or an HTTP API event (payload format 2.0) in, `{
 * statusCode, headers, body }` out. Built on the first call (nothing is read from the environment
 * at import).
 */
export async function handler(event: unknown): Promise<HttpApiResult> {
  production ??= createIntakeHandler({ env: process.env });
  return production.handle(event);
}
