/**
 * Context `rotation`: when Secrets Manager rotates each secret that opsbot's rotation function
 * rotates (README.md, "Deploy it"). One entry per secret, plus `slackTokenRotation` and
 * `reservedConcurrency`:
 *
 * ```json
 * "rotation": { "audit": 90, "datadog": 30, "slack": "off", "github": "off", "jira": "off", "slackTokenRotation": false, "reservedConcurrency": false }
 * ```
 *
 * A value is a whole number of days (1–1000), a Secrets Manager schedule expression (`rate(4 hours)`,
 * `rate(30 days)`, `cron(0 4 ? * MON *)`), or `"off"`: the function is attached (so `/opsbot rotate`
 * works) but nothing rotates on a schedule.
 */

/** A rotation schedule: a Secrets Manager `ScheduleExpression`, or none (rotation on demand only). */
export type RotationSchedule = { expression: string } | 'off';

export interface RotationSettings {
  /** By secret short name (`audit`, `datadog`, …): every rotated secret has an entry. */
  schedules: Record<string, RotationSchedule>;
  /** Slack token rotation is on for the app: the `slack` secret holds a `refreshToken`. */
  slackTokenRotation: boolean;
  /**
   * Reserve one concurrent execution for each rotation function (so two never run at once). Off by
   * default: a reservation takes from the account's Lambda concurrency, and an account whose limit
   * is still the new-account 10 cannot reserve any (the deployment would fail).
   */
  reservedConcurrency: boolean;
}

const FLAGS = ['slackTokenRotation', 'reservedConcurrency'] as const;

/** Secrets the function rotates with no person, and their default period in days. */
export const AUTOMATIC_DEFAULTS: Readonly<Record<string, number>> = { audit: 90, datadog: 30 };
/** Slack's rotated bot tokens live 12 hours: with token rotation on, a fresh one every 4 hours. */
export const SLACK_TOKEN_SCHEDULE = 'rate(4 hours)';

const DAYS = /^rate\((\d{1,4}) days?\)$/;
const HOURS = /^rate\((\d{1,2}) hours?\)$/;
/** Six fields: minutes, hours, day of month, month, day of week, year (Secrets Manager's cron). */
const CRON = /^cron\((\S+ ){5}\S+\)$/;

const SHAPE =
  'a whole number of days (1-1000), a schedule expression such as "rate(4 hours)", "rate(30 days)" or "cron(0 4 ? * MON *)", or "off"';

/**
 * Reads context `rotation` for the secrets in `rotated` (short names). Problems are pushed to
 * `problems`, each naming `rotation.<key>` and what it expects (context.ts reports them together).
 */
export function readRotation(
  value: unknown,
  rotated: readonly string[],
  problems: string[],
): RotationSettings {
  const given = mapping(value, problems);
  for (const key of Object.keys(given)) {
    if (!(FLAGS as readonly string[]).includes(key) && !rotated.includes(key))
      problems.push(
        `rotation.${key}: not a secret opsbot's rotation function rotates (known: ${rotated.join(', ')}, ${FLAGS.join(', ')})`,
      );
  }

  const [slackTokenRotation, reservedConcurrency] = FLAGS.map((name) => {
    const flag = given[name] ?? false;
    const on = flag === true || flag === 'true';
    if (!on && flag !== false && flag !== 'false')
      problems.push(`rotation.${name}: expected true or false, got ${JSON.stringify(flag)}`);
    return on;
  }) as [boolean, boolean];

  const schedules: Record<string, RotationSchedule> = {};
  for (const name of rotated) {
    const automatic = AUTOMATIC_DEFAULTS[name] !== undefined || (name === 'slack' && slackTokenRotation);
    const fallback: RotationSchedule =
      AUTOMATIC_DEFAULTS[name] !== undefined
        ? { expression: `rate(${AUTOMATIC_DEFAULTS[name]} days)` }
        : name === 'slack' && slackTokenRotation
          ? { expression: SLACK_TOKEN_SCHEDULE }
          : 'off';
    const raw = given[name];
    const schedule = raw === undefined || raw === null ? fallback : parseSchedule(raw);
    if (schedule === undefined) {
      problems.push(`rotation.${name}: expected ${SHAPE}, got ${JSON.stringify(raw)}`);
      schedules[name] = fallback;
      continue;
    }
    if (schedule !== 'off' && !automatic) {
      problems.push(
        name === 'slack'
          ? 'rotation.slack: a schedule rotates the Slack secret only with Slack token rotation on: set rotation.slackTokenRotation to true (and put refreshToken, clientId, clientSecret and expiresAt in the slack secret), or leave rotation.slack "off"'
          : `rotation.${name}: its value is made by a person, so a scheduled rotation would fail every time; leave it "off" (opsbot reminds admins when it is due, and /opsbot rotate ${name} promotes the AWSPENDING value they put)`,
      );
      schedules[name] = 'off';
      continue;
    }
    schedules[name] = schedule;
  }
  return { schedules, slackTokenRotation, reservedConcurrency };
}

function mapping(value: unknown, problems: string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  problems.push(
    `rotation: expected a mapping such as { "audit": 90, "datadog": 30, "slack": "off", "slackTokenRotation": false }, got ${JSON.stringify(value)}`,
  );
  return {};
}

/** One value: days, a schedule expression or "off"; undefined when it is none of those. */
export function parseSchedule(raw: unknown): RotationSchedule | undefined {
  if (raw === 'off' || raw === false) return 'off';
  const days =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^\d{1,4}$/.test(raw.trim())
        ? Number(raw)
        : undefined;
  if (days !== undefined)
    return Number.isInteger(days) && days >= 1 && days <= 1000
      ? { expression: `rate(${days} days)` }
      : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim().replace(/\s+/g, ' ');
  const inDays = DAYS.exec(text);
  if (inDays) {
    const n = Number(inDays[1]);
    return n >= 1 && n <= 1000 ? { expression: `rate(${n} days)` } : undefined;
  }
  const inHours = HOURS.exec(text);
  if (inHours) {
    // Secrets Manager rotates at most every four hours; a day or more is written in days.
    const n = Number(inHours[1]);
    return n >= 4 && n <= 23 ? { expression: `rate(${n} hours)` } : undefined;
  }
  if (CRON.test(text)) return { expression: text };
  return undefined;
}
