import { randomBytes, randomUUID } from 'node:crypto';
import { WEBHOOK_PATH } from '../alerts/webhook-core.js';
import { webhookHeaders } from '../sandbox/datadog-keys.js';
import type { DatadogWebhookBody } from '../sandbox/datadog-webhook-sender.js';
import type { SandboxBot } from '../sandbox/sandbox-bot.js';

/** The function URL's id the console makes up (a Lambda function URL's host begins with it). */
const URL_ID = `opsbotintake${randomBytes(10).toString('hex')}`;
/** Where the console's intake function "is": Datadog's webhook would name this URL. */
export const CONSOLE_FUNCTION_URL = `https://${URL_ID}.lambda-url.us-east-1.on.aws${WEBHOOK_PATH}`;

/**
 * The event a Lambda function URL hands the function for Datadog's POST (payload format 2.0):
 * header names in lower case, the JSON body as text (not base64: its content type is text), the
 * path and method both as `rawPath` and in `requestContext.http`.
 */
export function functionUrlEvent(spec: {
  body: string;
  headers: Readonly<Record<string, string>>;
  at: number;
}): Record<string, unknown> {
  const host = new URL(CONSOLE_FUNCTION_URL).host;
  const userAgent = 'Datadog/Webhooks';
  const headers = Object.fromEntries(Object.entries(spec.headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: WEBHOOK_PATH,
    rawQueryString: '',
    headers: {
      ...headers,
      host,
      'content-length': String(Buffer.byteLength(spec.body)),
      'user-agent': userAgent,
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '203.0.113.20',
      'x-forwarded-port': '443',
      'x-amzn-trace-id': `Root=1-${Math.floor(spec.at / 1_000).toString(16)}-${randomBytes(12).toString('hex')}`,
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: URL_ID,
      domainName: host,
      domainPrefix: URL_ID,
      http: {
        method: 'POST',
        path: WEBHOOK_PATH,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.20',
        userAgent,
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: clfTime(spec.at),
      timeEpoch: spec.at,
    },
    body: spec.body,
    isBase64Encoded: false,
  };
}

/**
 * Datadog's webhook `opsbot` sent to the intake function instead of the bot: its custom headers as
 * the simulated Datadog holds them now (a rotation changes them), through a function URL's event,
 * to the handler in-process. The function's status and body (which never holds a secret).
 */
export async function sendToIntake(
  bot: SandboxBot,
  body: DatadogWebhookBody,
): Promise<{ status: number; body: string }> {
  const text = JSON.stringify(body);
  const headers = {
    'content-type': 'application/json',
    ...webhookHeaders(bot.datadog.keys.webhooks.get('opsbot')),
  };
  const result = await bot.intake.handle(functionUrlEvent({ body: text, headers, at: bot.clock.now() }));
  return { status: result.statusCode, body: result.body.trim().slice(0, 200) };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, as `requestContext.time` carries it. */
function clfTime(at: number): string {
  const d = new Date(at);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}
