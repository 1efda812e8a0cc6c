import { z } from 'zod';
import { type SecretSpec, secretText } from '../../credentials/secret-spec.js';

/** The `events` secret's shape: `{ "apiKey": "…" }` (`openssl rand -base64 32`). */
export interface EventsSecret {
  apiKey: string;
}

/** The shortest key taken: guessing one must be out of reach. */
export const EVENTS_KEY_MIN_LENGTH = 32;

/**
 * opsbot's own secret (not an integration's): the key EventBridge's API destination sends in
 * `X-Opsbot-Events-Key` to `POST /webhooks/aws-events`. Optional: without it the endpoint refuses
 * every request (`401`). Loaded, masked and compared like every inbound secret (CURRENT, PENDING,
 * then PREVIOUS for the grace period): `<prefix>events`, `OPSBOT_SECRET_EVENTS`.
 */
export const eventsSecret: SecretSpec<EventsSecret> = {
  name: 'events',
  title: 'AWS events',
  schema: z.object({
    apiKey: secretText('apiKey').min(EVENTS_KEY_MIN_LENGTH, {
      error: `apiKey: expected at least ${EVENTS_KEY_MIN_LENGTH} characters (openssl rand -base64 32)`,
    }),
  }),
  sensitive: ['apiKey'],
  inbound: 'apiKey',
};

/** The header EventBridge's connection sends the `events` key in (the stack names it so). */
export const AWS_EVENTS_KEY_HEADER_NAME = 'X-Opsbot-Events-Key';
