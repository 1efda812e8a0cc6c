import { systemClock } from '../clock.js';
import { deadlineSignal } from '../time/deadline.js';
import { RotationStepError } from './errors.js';

/** How long one vendor call of a rotation step may take (a Lambda step has minutes; a person waits). */
const VENDOR_TIMEOUT_MS = 10_000;
/** The most of a vendor's answer read (its identity object or its error). */
const MAX_BODY_CHARS = 65_536;

export interface VendorAnswer {
  status: number;
  /** The JSON body, or undefined when it was not JSON. */
  body: unknown;
  /** The vendor's own words for a refusal (`message`, `errorMessages[0]`), bounded and printable. */
  reason: string;
}

/**
 * A GET to a vendor's API with the new credential, for testSecret: bounded in time and size. An
 * answer of any status comes back (the kind decides what it means); a vendor that cannot be reached
 * is a {@link RotationStepError} naming it and the network error, never the credential.
 */
export async function vendorGet(
  vendor: string,
  url: string,
  headers: Record<string, string>,
): Promise<VendorAnswer> {
  const deadline = deadlineSignal(
    systemClock,
    VENDOR_TIMEOUT_MS,
    new AbortController().signal,
    () => new Error(`no answer within ${VENDOR_TIMEOUT_MS / 1_000} s`),
  );
  try {
    const response = await fetch(url, {
      headers: { accept: 'application/json', 'user-agent': 'opsbot-rotation', ...headers },
      signal: deadline.signal,
    });
    const text = (await response.text()).slice(0, MAX_BODY_CHARS);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, reason: reasonOf(body, response.statusText) };
  } catch (error) {
    throw new RotationStepError(
      `${vendor} could not be reached at ${new URL(url).origin} (${networkReason(error, deadline.signal)}): AWSCURRENT keeps serving; rotate again once it answers`,
    );
  } finally {
    deadline.cancel();
  }
}

function reasonOf(body: unknown, fallback: string): string {
  const b = (body ?? {}) as { message?: unknown; errorMessages?: unknown; error?: unknown };
  const first = Array.isArray(b.errorMessages) ? b.errorMessages[0] : undefined;
  const text = [b.message, first, b.error, fallback].find((t) => typeof t === 'string' && t.trim() !== '');
  return printable(String(text ?? 'no reason given'));
}

function networkReason(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return String((signal.reason as Error | undefined)?.message ?? 'timed out');
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return printable(code ?? String((error as Error).message ?? 'network error'));
}

/** A vendor's text as one short printable line. */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
