import { z } from 'zod';
import { channelId } from '../config/fields.js';
import { defineConfigSection } from '../config/section.js';

/** `alerts:` of the configuration file: where Datadog alerts go (the first matching route, else the default). */
const priority = z.enum(['P1', 'P2', 'P3', 'P4', 'P5']);

const route = z.strictObject({
  match: z.strictObject({
    tags: z.array(z.string().min(1).max(200)).optional(),
    priority: z.array(priority).optional(),
    monitorIds: z.array(z.union([z.number().int().positive(), z.string().regex(/^\d+$/)])).optional(),
  }),
  channel: channelId,
});

const alertsSchema = z.strictObject({
  defaultChannel: channelId.optional(),
  routes: z.array(route).max(200).default([]),
});

export type AlertsConfig = z.output<typeof alertsSchema>;

declare module '../config/section.js' {
  interface ConfigSections {
    alerts: AlertsConfig;
  }
}

export const alertsConfig = defineConfigSection('alerts', alertsSchema);
