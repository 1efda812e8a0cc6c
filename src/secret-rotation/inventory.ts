import type { CredentialProvider } from '../credentials/provider.js';
import type { SecretAdmin, SecretStatus } from '../credentials/secret-admin.js';
import type { RotationKind } from '../rotation/kind.js';

const DAY = 86_400_000;
/** A secret not rotated for this long is overdue. */
export const ROTATE_AT_LEAST_EVERY_MS = 90 * DAY;
/** A vendor-side expiry this close is reported. */
export const EXPIRY_WARNING_MS = 14 * DAY;
/** Secrets that are opsbot's but belong to the rotation function only (no kind, never loaded by the bot). */
export const ROTATION_OWN_SECRETS = ['datadog-rotation'] as const;

/** One secret as `/opsbot secrets` and the reminder show it: what Secrets Manager says, never a value. */
export interface SecretRow {
  /** `github` for `opsbot/github`. */
  short: string;
  name: string;
  /** Undefined when the secret does not exist. */
  status: SecretStatus | undefined;
  /** opsbot's rotation function has a kind for it. */
  rotatable: boolean;
  /** The version the bot serves now, when it has loaded one. */
  loadedVersion: string | undefined;
  /** The vendor's expiry of the current value (Jira `expiresAt`, Slack's bot token), epoch ms. */
  expiresAt: number | undefined;
  /** Why an admin should act, one phrase each (empty: nothing to do). */
  overdue: string[];
}

export interface InventoryDeps {
  admin: SecretAdmin;
  provider: CredentialProvider;
  kinds: ReadonlyMap<string, RotationKind>;
  now(): number;
}

/**
 * Every secret the bot knows (the registry's, with the audit key), plus the rotation function's own
 * (`datadog-rotation`) when it exists, described by Secrets Manager. Reads a value only to find its
 * vendor-side `expiresAt`, through the provider, and keeps nothing else of it.
 */
export async function secretInventory(deps: InventoryDeps): Promise<SecretRow[]> {
  const { provider } = deps;
  const loaded = provider.names();
  const names = [...loaded, ...ROTATION_OWN_SECRETS.filter((n) => !loaded.includes(n))];
  const rows = await Promise.all(
    names.map(async (short): Promise<SecretRow | undefined> => {
      const name = provider.secretName(short);
      const isLoaded = loaded.includes(short);
      // The rotation function's own secrets may be out of the bot's reach (its role only): left out then.
      const status = isLoaded
        ? await deps.admin.describe(name)
        : await deps.admin.describe(name).catch(() => undefined);
      // The rotation function's own secrets are listed only when they exist.
      if (!status && !isLoaded) return undefined;
      const credential = isLoaded && provider.isLoaded(short) ? provider.current(short) : undefined;
      const row: SecretRow = {
        short,
        name,
        status,
        rotatable: deps.kinds.has(short),
        loadedVersion: credential?.versionId,
        expiresAt: expiryOf(credential?.value.reveal()),
        overdue: [],
      };
      row.overdue = overdueReasons(row, deps.now());
      return row;
    }),
  );
  return rows.filter((r): r is SecretRow => r !== undefined);
}

/** What is overdue about one secret: not rotated in 90 days, a vendor expiry within 14 days, rotation off. */
export function overdueReasons(row: Omit<SecretRow, 'overdue'>, now: number): string[] {
  const { status } = row;
  if (!status) return [];
  const reasons: string[] = [];
  const since = status.lastRotatedAt ?? status.createdAt;
  if (since !== undefined && now - since > ROTATE_AT_LEAST_EVERY_MS) {
    const days = Math.floor((now - since) / DAY);
    reasons.push(status.lastRotatedAt ? `not rotated for ${days} days` : `never rotated in ${days} days`);
  }
  if (row.expiresAt !== undefined && row.expiresAt - now <= EXPIRY_WARNING_MS) {
    reasons.push(
      row.expiresAt <= now
        ? 'the vendor has expired it'
        : `the vendor expires it in ${Math.max(1, Math.ceil((row.expiresAt - now) / DAY))} day(s)`,
    );
  }
  if (row.rotatable && !status.rotationEnabled) reasons.push('rotation is off');
  return reasons;
}

/** `expiresAt` of a parsed secret value (Jira's API token, Slack's rotating bot token), epoch ms. */
function expiryOf(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null || !('expiresAt' in value)) return undefined;
  const at = value.expiresAt;
  if (typeof at !== 'string') return undefined;
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? ms : undefined;
}
