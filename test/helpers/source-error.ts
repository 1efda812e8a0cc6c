import { expect } from 'vitest';
import { SecretSourceError, type SecretSourceErrorKind } from '../../src/credentials/source.js';
import { assertNoCanary } from './canary.js';

/**
 * Awaits a secret source call that must fail with a {@link SecretSourceError} of `kind` whose
 * message matches, and that carries no canary and none of `secrets`.
 */
export async function expectSourceError(
  call: Promise<unknown>,
  kind: SecretSourceErrorKind,
  message: RegExp,
  secrets: readonly string[] = [],
): Promise<SecretSourceError> {
  const error = await call.then(
    () => expect.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SecretSourceError);
  expect(error).toMatchObject({ kind });
  expect((error as Error).message).toMatch(message);
  assertNoCanary({ error }, secrets);
  return error as SecretSourceError;
}
