/**
 * A rotation the function will not perform, as Secrets Manager's own rotation template refuses it:
 * rotation not enabled, a token that is not a pending version of the secret, a secret opsbot does
 * not rotate, a malformed event. The message says what to check; it never holds a secret value.
 */
export class RotationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationRefusedError';
  }
}

/**
 * A step failed for a reason that is neither the person's nor the vendor's verdict on the new value
 * (Secrets Manager refused a call, a vendor could not be reached): which step, which secret, why.
 * Built from a message already stripped of values; it carries no `cause` (a cause may hold one).
 */
export class RotationStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RotationStepError';
  }
}
