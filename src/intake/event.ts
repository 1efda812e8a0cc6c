import { z } from 'zod';
import {
  WEBHOOK_PATH,
  WEBHOOK_SECRET_HEADER,
  type WebhookAnswer,
  type WebhookRequest,
} from '../alerts/webhook-core.js';

/**
 * The request of a Lambda function URL or an API Gateway HTTP API (payload format 2.0), as far as
 * the intake reads it. Header names arrive in lower case from both, but are matched regardless.
 */
const eventSchema = z.object({
  rawPath: z.string().max(8_192),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
  requestContext: z.object({ http: z.object({ method: z.string().max(32) }) }),
});
export type HttpApiEvent = z.input<typeof eventSchema>;

/** What the function answers (function URLs and HTTP APIs take the same shape). */
export interface HttpApiResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/**
 * The event as the webhook core's request, or the answer when it is not `POST /webhooks/datadog`:
 * 404 and 405 in the words of the bot's own listener, 400 for what is no HTTP event at all.
 */
export function webhookRequestOf(
  event: unknown,
): { ok: true; request: WebhookRequest } | { ok: false; result: HttpApiResult } {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success)
    return {
      ok: false,
      result: json(400, {
        error: 'invalid_event',
        message: 'not an HTTP request (a function URL or an HTTP API event, payload format 2.0)',
      }),
    };
  const { rawPath, headers = {}, body, isBase64Encoded, requestContext } = parsed.data;
  if (rawPath !== WEBHOOK_PATH) return { ok: false, result: text(404, 'not found\n') };
  if (requestContext.http.method.toUpperCase() !== 'POST')
    return { ok: false, result: text(405, 'method not allowed\n', { allow: 'POST' }) };
  return {
    ok: true,
    request: {
      secret: headerOf(headers, WEBHOOK_SECRET_HEADER),
      body: async (limit) => bodyOf(body ?? '', isBase64Encoded === true, limit),
    },
  };
}

/** The core's answer as the function's result (`Retry-After` on a 503). */
export function resultOf(answer: WebhookAnswer): HttpApiResult {
  const result = json(answer.status, answer.body);
  if (answer.retryAfterSeconds !== undefined)
    result.headers['retry-after'] = String(answer.retryAfterSeconds);
  return result;
}

export function json(status: number, body: unknown): HttpApiResult {
  return { statusCode: status, headers: { 'content-type': JSON_TYPE }, body: `${JSON.stringify(body)}\n` };
}

function text(status: number, body: string, headers: Record<string, string> = {}): HttpApiResult {
  return { statusCode: status, headers: { 'content-type': TEXT_TYPE, ...headers }, body };
}

/** A header by name, whatever its case; undefined when absent. */
export function headerOf(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/**
 * The body's bytes, `too_large` past `limit`: a base64 body too long to decode within the limit
 * is refused before it is decoded.
 */
export function bodyOf(body: string, base64: boolean, limit: number): Buffer | 'too_large' {
  if (!base64) return Buffer.byteLength(body, 'utf8') > limit ? 'too_large' : Buffer.from(body, 'utf8');
  if (body.length > Math.ceil(limit / 3) * 4 + 4) return 'too_large';
  const bytes = Buffer.from(body, 'base64');
  return bytes.length > limit ? 'too_large' : bytes;
}
