import { parse } from 'node:querystring';

/**
 * Parses a verified Slack request body: slash commands are form fields, interactivity is one
 * `payload` form field holding JSON, and Events API requests are JSON.
 */
export type ParsedSlackBody = { ok: true; body: Record<string, unknown> } | { ok: false; problem: string };

const MAX_FIELDS = 100;

export function parseSlackBody(rawBody: Buffer, contentType: string | undefined): ParsedSlackBody {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  const text = rawBody.toString('utf8');
  if (type === 'application/json') return parseJsonObject(text, 'the JSON body');
  if (type === 'application/x-www-form-urlencoded') {
    // node:querystring (as Bolt's own receiver): a null-prototype object, `+` and %XX decoded as
    // URLSearchParams decodes them; a repeated field keeps its last value.
    const fields = parse(text, '&', '=', { maxKeys: MAX_FIELDS + 1 });
    const body: Record<string, unknown> = {};
    let count = 0;
    for (const key in fields) {
      if (++count > MAX_FIELDS) return { ok: false, problem: 'too many form fields' };
      const value = fields[key];
      body[key] = Array.isArray(value) ? value.at(-1) : value;
    }
    const payload = body.payload;
    if (typeof payload === 'string') return parseJsonObject(payload, 'the payload field');
    if (typeof body.command !== 'string' && body.ssl_check === undefined)
      return { ok: false, problem: 'a form body needs `command` or `payload`' };
    return { ok: true, body };
  }
  return { ok: false, problem: `unsupported content type ${JSON.stringify(type?.slice(0, 60) ?? '')}` };
}

function parseJsonObject(text: string, what: string): ParsedSlackBody {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { ok: false, problem: `${what} is not a JSON object` };
    return { ok: true, body: value as Record<string, unknown> };
  } catch {
    return { ok: false, problem: `${what} is not valid JSON` };
  }
}
