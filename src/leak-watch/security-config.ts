import { z } from 'zod';
import { channelId } from '../config/fields.js';
import { defineConfigSection } from '../config/section.js';

/**
 * `security:` of the configuration file: where opsbot reports security events (a credential
 * posted in a channel). One section for every security setting, owned here: a later one (the
 * principals opsbot expects to run as) is a new key of this schema, not a second section.
 */
const securitySchema = z.strictObject({
  /** The channel that gets security reports; without it, each admin gets them by DM. */
  channel: channelId.optional(),
});

export type SecurityConfig = z.output<typeof securitySchema>;

declare module '../config/section.js' {
  interface ConfigSections {
    security: SecurityConfig;
  }
}

export const securityConfig = defineConfigSection('security', securitySchema);
