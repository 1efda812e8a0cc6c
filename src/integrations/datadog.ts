import { z } from 'zod';
import { secretText } from '../credentials/secret-spec.js';
import { secretIntegration } from './integration.js';

export const datadogSecretSchema = z.object({
  apiKey: secretText('apiKey'),
  appKey: secretText('appKey'),
  webhookSecret: secretText('webhookSecret'),
});
export type DatadogSecret = z.infer<typeof datadogSecretSchema>;

/**
 * Datadog: its secret is declared (loaded, validated, masked, rotated; `webhookSecret` verifies the
 * alert webhook); the client, `/dd` and the webhook arrive with the Datadog issue.
 */
export const datadog = secretIntegration<'datadog', DatadogSecret>({
  kind: 'secret',
  name: 'datadog',
  title: 'Datadog',
  secret: {
    schema: datadogSecretSchema,
    // Datadog keys have no prefix: masking them verbatim in logs is the only protection.
    sensitive: ['apiKey', 'appKey', 'webhookSecret'],
    inbound: 'webhookSecret',
  },
});
