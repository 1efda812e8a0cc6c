import { parseEventBridgeEvent, secretCallOf } from './cloudtrail.js';
import type { SecretCall } from './secret-call.js';
import { isVaultEntry, MAX_VAULT_ENTRIES, parseVaultEntry, vaultCallOf } from './vault-audit.js';

export type ParsedBody =
  | { ok: true; calls: SecretCall[]; ignored: number }
  | { ok: false; error: 'invalid_json' | 'invalid_payload'; problem: string };

export interface BodyOptions {
  /** Take Vault audit-device lines too (the `vault` source). */
  vault: boolean;
  kvMount: string;
  secretNames: readonly string[];
  /** When the body arrived (ISO): the time of a Vault entry that carries none. */
  receivedAt: string;
}

/**
 * A `/webhooks/aws-events` body: one EventBridge event, or (with the `vault` source) one or more
 * Vault audit-device entries, one JSON object a line. Never throws; a problem names what was
 * expected, never the body's text. `calls` are the calls on secrets the body records (not yet
 * matched to opsbot's, except Vault's); `ignored` counts entries about something else.
 */
export function parseEventsBody(text: string, options: BodyOptions): ParsedBody {
  const whole = parseJson(text);
  if (whole.ok && options.vault && isVaultEntry(whole.value)) return vaultCalls([whole.value], options);
  if (whole.ok) {
    const parsed = parseEventBridgeEvent(whole.value);
    if (!parsed.ok) return { ok: false, error: 'invalid_payload', problem: parsed.problem };
    const call = secretCallOf(parsed.event);
    return call ? { ok: true, calls: [call], ignored: 0 } : { ok: true, calls: [], ignored: 1 };
  }
  if (!options.vault) return { ok: false, error: 'invalid_json', problem: 'the body is not valid JSON' };
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) return { ok: false, error: 'invalid_json', problem: 'the body is empty' };
  if (lines.length > MAX_VAULT_ENTRIES)
    return {
      ok: false,
      error: 'invalid_payload',
      problem: `more than ${MAX_VAULT_ENTRIES} Vault audit entries`,
    };
  const values: unknown[] = [];
  for (const [index, line] of lines.entries()) {
    const json = parseJson(line);
    if (!json.ok) return { ok: false, error: 'invalid_json', problem: `line ${index + 1} is not valid JSON` };
    values.push(json.value);
  }
  return vaultCalls(values, options);
}

/** Vault audit entries (each a parsed JSON line) as the calls on opsbot's secrets they record. */
function vaultCalls(values: readonly unknown[], options: BodyOptions): ParsedBody {
  const calls: SecretCall[] = [];
  let ignored = 0;
  for (const [index, value] of values.entries()) {
    const entry = parseVaultEntry(value);
    if (!entry)
      return {
        ok: false,
        error: 'invalid_payload',
        problem: `line ${index + 1}: expected a Vault audit entry (type, request.id, request.operation, request.path)`,
      };
    const call = vaultCallOf(entry, options);
    if (call) calls.push(call);
    else ignored++;
  }
  return { ok: true, calls, ignored };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
