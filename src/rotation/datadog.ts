import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { SecretSpec } from '../credentials/secret-spec.js';
import { secretText } from '../credentials/secret-spec.js';
import { type DatadogSecret, datadog } from '../integrations/datadog.js';
import { DatadogCallError, DatadogKeysApi, type ListedKey } from './datadog-keys-api.js';
import { DATADOG_BOT_SCOPES, DATADOG_ROTATION_SCOPES } from './datadog-scopes.js';
import { type RotationContext, type RotationKind, RotationTestError } from './kind.js';

export { DATADOG_BOT_SCOPES, DATADOG_ROTATION_SCOPES };

/** The header Datadog's webhook carries and the bot checks (src/alerts/webhook.ts). */
export const WEBHOOK_SECRET_HEADER = 'X-Opsbot-Webhook-Secret';
export const DEFAULT_WEBHOOK_NAME = 'opsbot';

/**
 * `<prefix>datadog-rotation`: the keys that create and revoke the bot's Datadog keys. Read by the
 * rotation function only (its own role), never by the bot.
 */
export const datadogRotationSpec: SecretSpec<{ apiKey: string; appKey: string }> = {
  name: 'datadog-rotation',
  title: 'Datadog rotation',
  schema: z.object({ apiKey: secretText('apiKey'), appKey: secretText('appKey') }),
  sensitive: ['apiKey', 'appKey'],
};

/** A rotation step for Datadog could not be done; the text says what to do next (never a key). */
export class DatadogRotationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatadogRotationError';
  }
}

/** The name of the keys made for one rotation: a retried createSecret finds and deletes its own. */
export const datadogKeyName = (token: string) => `opsbot-${token.slice(0, 8)}`;

/**
 * The `datadog` secret rotates with no person: a new `webhookSecret` (32 random bytes, base64url),
 * set on the webhook before it becomes current, and a new API key and application key (scoped to
 * {@link DATADOG_BOT_SCOPES}), made and revoked with the `datadog-rotation` keys.
 *
 * Retiring: the previous keys are revoked as soon as the new version is current, emergency or not.
 * That is safe because only the bot's outbound calls use them (the grace for the previous version
 * is for inbound values, the webhook secret, which retiring leaves alone): finishSecret has already
 * made the new version AWSCURRENT, and a bot replica still holding the previous keys meets a 403 at
 * its next call, refreshes the secret once and retries with the new keys (`fresh-credentials.ts`),
 * so no command fails. Keeping a generation would only keep a possibly leaked key alive longer.
 */
export function datadogRotation(): RotationKind<DatadogSecret> {
  // A function declaration, not a const: the integration module calls it while the two modules
  // import each other, and a hoisted function is ready before either module's body has run.
  return {
    // Read when used: src/integrations/datadog.ts declares this kind as its `rotation` (an import cycle).
    get spec() {
      return datadog.secret;
    },
    automatic: () => true,

    async create(current, ctx) {
      const admin = await adminApi(ctx);
      const name = datadogKeyName(ctx.token);
      try {
        await removeOrphans(admin, name, current);
        const apiKey = await admin.createApiKey(name);
        let appKey: { id: string; key: string };
        try {
          appKey = await admin.createMyApplicationKey(name, DATADOG_BOT_SCOPES);
        } catch (error) {
          await admin.deleteApiKey(apiKey.id).catch(() => false); // else the retry removes it by name
          throw error;
        }
        ctx.log.info(
          { secret: ctx.name, apiKeyId: apiKey.id, appKeyId: appKey.id },
          'created new Datadog API and application keys',
        );
        return {
          ...current,
          apiKey: apiKey.key,
          appKey: appKey.key,
          apiKeyId: apiKey.id,
          appKeyId: appKey.id,
          webhookSecret: randomBytes(32).toString('base64url'),
        };
      } catch (error) {
        throw explain(error, 'create the new keys');
      }
    },

    async set(pending, _current, ctx) {
      const admin = await adminApi(ctx);
      const name = pending.webhookName ?? DEFAULT_WEBHOOK_NAME;
      try {
        const webhook = await admin.getWebhook(name);
        const headers = withSecretHeader(webhook.custom_headers, pending.webhookSecret);
        await admin.updateWebhookHeaders(name, JSON.stringify(headers));
        ctx.log.info({ secret: ctx.name, webhook: name }, 'Datadog webhook now sends the new secret');
      } catch (error) {
        if (error instanceof DatadogCallError && error.status === 404)
          throw new DatadogRotationError(
            `Datadog has no webhook named ${name} in its Webhooks integration: create it (README, "Datadog webhook payload"), or set webhookName in the ${ctx.name} secret to the webhook's name`,
            { cause: error },
          );
        throw explain(error, 'set the new secret on the webhook');
      }
    },

    async test(pending, ctx) {
      const base = DatadogKeysApi.baseUrl(ctx.endpoints);
      try {
        if (!(await new DatadogKeysApi(base, { apiKey: pending.apiKey }).validate()))
          throw new RotationTestError(
            'Datadog does not accept the new API key (validate answered valid: false)',
          );
        await new DatadogKeysApi(base, { apiKey: pending.apiKey, appKey: pending.appKey }).readOneMonitor();
        const name = pending.webhookName ?? DEFAULT_WEBHOOK_NAME;
        const webhook = await (await adminApi(ctx)).getWebhook(name);
        if (headerOf(webhook.custom_headers) !== pending.webhookSecret)
          throw new RotationTestError(
            `Datadog's webhook ${name} does not send the new secret yet: setSecret did not finish; run the rotation again`,
          );
      } catch (error) {
        if (error instanceof RotationTestError || error instanceof DatadogRotationError) throw error;
        throw new RotationTestError(
          `the new Datadog keys do not work: ${error instanceof Error ? error.message : 'unknown error'}. AWSCURRENT keeps serving; check the datadog-rotation keys' scopes and run the rotation again`,
          { cause: error },
        );
      }
    },

    async retire(previous, current, ctx) {
      const admin = await adminApi(ctx);
      const rotationKeys = await ctx.readSecret(datadogRotationSpec);
      const keep = new Set([current.apiKey, current.appKey, rotationKeys?.apiKey, rotationKeys?.appKey]);
      const keepIds = new Set([current.apiKeyId, current.appKeyId]);
      try {
        if (!keep.has(previous.apiKey)) {
          const id = previous.apiKeyId ?? (await findApiKey(admin, previous.apiKey));
          if (id && !keepIds.has(id)) await admin.deleteApiKey(id);
        }
        if (!keep.has(previous.appKey)) {
          const id = previous.appKeyId;
          if (id === undefined) {
            // Datadog shows an application key's value at creation only: one opsbot did not make
            // (no appKeyId) cannot be found by value. A person revokes it.
            const message = `the previous Datadog application key was not made by opsbot's rotation, so opsbot cannot find it: revoke it in Datadog (Organization Settings, Application Keys); the previous API key is revoked`;
            if (ctx.emergency) throw new DatadogRotationError(message);
            ctx.log.warn({ secret: ctx.name }, message);
          } else if (!keepIds.has(id)) await admin.deleteApplicationKey(id);
        }
        ctx.log.info({ secret: ctx.name, emergency: ctx.emergency }, 'revoked the previous Datadog keys');
      } catch (error) {
        throw explain(error, 'revoke the previous keys');
      }
    },
  };
}

/** The API with the `datadog-rotation` keys; a clear error when that secret does not exist. */
async function adminApi(ctx: RotationContext): Promise<DatadogKeysApi> {
  const keys = await ctx.readSecret(datadogRotationSpec);
  if (!keys)
    throw new DatadogRotationError(
      `There is no ${datadogRotationSpec.name} secret: create <prefix>${datadogRotationSpec.name} (e.g. opsbot/${datadogRotationSpec.name}) holding { "apiKey", "appKey" } of a Datadog application key with the scopes ${DATADOG_ROTATION_SCOPES.join(', ')}, readable by the rotation function only; then run the rotation again`,
    );
  return new DatadogKeysApi(DatadogKeysApi.baseUrl(ctx.endpoints), keys);
}

/** Keys a failed earlier try of this rotation left (same name), never the current ones. */
async function removeOrphans(admin: DatadogKeysApi, name: string, current: DatadogSecret): Promise<void> {
  const own = (keys: ListedKey[], currentId?: string) =>
    keys.filter((k) => k.name === name && k.id !== currentId);
  for (const k of own(await admin.listApiKeys(name), current.apiKeyId)) await admin.deleteApiKey(k.id);
  for (const k of own(await admin.listMyApplicationKeys(name), current.appKeyId))
    await admin.deleteApplicationKey(k.id);
}

/** The id of the API key whose value is `value` (Datadog shows API keys' values again). */
async function findApiKey(admin: DatadogKeysApi, value: string): Promise<string | undefined> {
  const candidates = (await admin.listApiKeys()).filter((k) => k.last4 === value.slice(-4));
  for (const k of candidates.slice(0, 20)) {
    if ((await admin.apiKeyValue(k.id)) === value) return k.id;
  }
  return undefined;
}

/** The webhook's custom headers with the secret header set to `secret` (any spelling replaced). */
function withSecretHeader(customHeaders: string | null | undefined, secret: string): Record<string, string> {
  const headers = parseHeaders(customHeaders);
  for (const name of Object.keys(headers))
    if (name.toLowerCase() === WEBHOOK_SECRET_HEADER.toLowerCase()) delete headers[name];
  headers[WEBHOOK_SECRET_HEADER] = secret;
  return headers;
}

function headerOf(customHeaders: string | null | undefined): string | undefined {
  const headers = parseHeaders(customHeaders);
  const name = Object.keys(headers).find((n) => n.toLowerCase() === WEBHOOK_SECRET_HEADER.toLowerCase());
  return name === undefined ? undefined : headers[name];
}

function parseHeaders(customHeaders: string | null | undefined): Record<string, string> {
  if (!customHeaders) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(customHeaders);
  } catch {
    throw new DatadogRotationError(
      "the webhook's custom headers in Datadog are not a JSON object: fix them in Datadog's Webhooks integration, then run the rotation again",
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

/** A failed Datadog call, as a sentence that says what to do next. */
function explain(error: unknown, step: string): unknown {
  if (!(error instanceof DatadogCallError)) return error;
  const next =
    error.status === 0
      ? 'check that the rotation function can reach Datadog (OPSBOT_DATADOG_SITE, OPSBOT_DATADOG_API_URL, egress), then run the rotation again'
      : error.status === 401 || error.status === 403
        ? `check that the ${datadogRotationSpec.name} keys are valid and the application key has the scopes ${DATADOG_ROTATION_SCOPES.join(', ')}`
        : "run the rotation again; if it keeps failing, look at Datadog's status page";
  return new DatadogRotationError(`could not ${step}: ${error.message}; ${next}`, { cause: error });
}
