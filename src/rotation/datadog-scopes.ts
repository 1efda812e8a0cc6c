/**
 * The Datadog application key scopes opsbot's keys are made with. A module of its own, importing
 * nothing: `rotation/datadog.ts` and `integrations/datadog.ts` import each other (the integration
 * declares its rotation kind), and a reader of these constants must not enter that cycle first.
 */

/**
 * What the bot's own application key may do: `/dd` reads monitors and creates and cancels
 * downtimes; alerts arrive by webhook and call no API.
 */
export const DATADOG_BOT_SCOPES = ['monitors_read', 'monitors_downtime'] as const;

/**
 * What the `datadog-rotation` application key needs: create, list and revoke API keys, create its
 * own application keys and revoke any (the first keys were made by a person), read and update the
 * Webhooks integration's webhook.
 */
export const DATADOG_ROTATION_SCOPES = [
  'api_keys_read',
  'api_keys_write',
  'api_keys_delete',
  'user_app_keys',
  'org_app_keys_write',
  'integrations_read',
  'manage_integrations',
] as const;
