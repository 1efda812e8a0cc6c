/**
 * Context `intake`: the Datadog intake function the stack deploys in Socket Mode with secrets in
 * Secrets Manager (lib/intake.ts; README.md, "The Datadog webhook"):
 *
 * ```json
 * "intake": { "enabled": true, "reservedConcurrency": false }
 * ```
 *
 * `enabled` (default true) leaves the function out when false: for an organisation whose Control
 * Tower enforces CT.LAMBDA.PR.2 / CT.LAMBDA.PR.5 (a function URL must use IAM auth, which Datadog
 * cannot sign), or one that takes webhooks another way. `reservedConcurrency` (default false) is
 * false or a whole number of executions reserved for the function, which is also the most it runs
 * at once.
 */
export interface IntakeSettings {
  enabled: boolean;
  /**
   * Executions reserved for the intake function, and its cap (a burst of webhooks, or of requests
   * with no valid secret, cannot take the account's whole concurrency). Undefined (the default): no
   * reservation, since a reservation takes from the account's Lambda concurrency and an account whose
   * limit is still the new-account 10 cannot spare any (the deployment would fail).
   */
  reservedConcurrency?: number;
}

const KEYS = ['enabled', 'reservedConcurrency'] as const;
/** More than a webhook burst needs; a larger reservation only takes from the account. */
export const MAX_RESERVED_CONCURRENCY = 100;

/**
 * Reads context `intake`. Problems are pushed to `problems`, each naming `intake.<key>` and what it
 * expects (context.ts reports them together).
 */
export function readIntake(value: unknown, problems: string[]): IntakeSettings {
  const given = mapping(value, problems);
  for (const key of Object.keys(given))
    if (!(KEYS as readonly string[]).includes(key))
      problems.push(`intake.${key}: not a setting of the intake function (known: ${KEYS.join(', ')})`);

  const enabledRaw = given.enabled ?? true;
  const enabled = enabledRaw === true || enabledRaw === 'true';
  if (!enabled && enabledRaw !== false && enabledRaw !== 'false')
    problems.push(`intake.enabled: expected true or false, got ${JSON.stringify(enabledRaw)}`);

  const reservedConcurrency = readReservation(given.reservedConcurrency, problems);
  return { enabled, ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}) };
}

function readReservation(raw: unknown, problems: string[]): number | undefined {
  if (raw === undefined || raw === null || raw === false || raw === 'false' || raw === 'off')
    return undefined;
  const n =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\d{1,4}$/.test(raw.trim())
        ? Number(raw)
        : Number.NaN;
  if (Number.isInteger(n) && n >= 1 && n <= MAX_RESERVED_CONCURRENCY) return n;
  problems.push(
    `intake.reservedConcurrency: expected false (no reservation) or a whole number from 1 to ${MAX_RESERVED_CONCURRENCY} (executions reserved for the intake function, and the most it runs at once), got ${JSON.stringify(raw)}`,
  );
  return undefined;
}

function mapping(value: unknown, problems: string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  problems.push(
    `intake: expected a mapping such as { "enabled": true, "reservedConcurrency": false }, got ${JSON.stringify(value)}`,
  );
  return {};
}
