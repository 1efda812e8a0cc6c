/**
 * The tags opsbot's rotation function and the bot leave on a secret (AWS tag values: letters,
 * digits, spaces and `_.:/=+-@`, at most 256 characters).
 */

/** Set by the bot before RotateSecret to the rotation's token: the function marks the new version OPSBOT_EMERGENCY. */
export const EMERGENCY_TAG = 'opsbot:emergency-rotation';

/**
 * Set by the rotation function when a step fails: why (the step and its operator-facing message,
 * never a value), the rotation's token, and when (epoch ms). `/opsbot rotate` reads them to say why
 * a rotation stopped, since DescribeSecret carries no reason of its own.
 */
export const FAILURE_TAGS = {
  message: 'opsbot:rotation-failure',
  token: 'opsbot:rotation-failure-token',
  at: 'opsbot:rotation-failure-at',
} as const;

/** A text as an AWS tag value allows it. */
export function tagValue(text: string): string {
  return text.replace(/[^\p{L}\p{N} _.:/=+\-@]/gu, ' ').slice(0, 256);
}
