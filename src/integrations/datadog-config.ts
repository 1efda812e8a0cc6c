import { parseEnum, parseHttpUrl } from '../config/parsers.js';
import { defineEnvSection } from '../config/section.js';

/** The Datadog sites opsbot knows (`OPSBOT_DATADOG_SITE`): each has its API and app hosts. */
export const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'ddog-gov.com',
] as const;

/** `OPSBOT_DATADOG_SITE` when unset. */
export const DEFAULT_DATADOG_SITE = 'datadoghq.com';

/** What Datadog reads from the environment: `config.datadog` (it has no section of the file). */
export interface DatadogSettings {
  /** `OPSBOT_DATADOG_SITE`: the client's API, and the only hosts alerts' links and graphs may point at. */
  site: string;
  /** `OPSBOT_DATADOG_API_URL`: a full API base URL instead of the site's (the sandbox, tests). */
  apiUrl?: string;
}

declare module '../config/section.js' {
  interface EnvSettings {
    datadog: DatadogSettings;
  }
}

export const datadogConfig = defineEnvSection('datadog', {
  site: {
    name: 'OPSBOT_DATADOG_SITE',
    default: DEFAULT_DATADOG_SITE,
    deploy: 'operator',
    parse: (text) => parseEnum(text, DATADOG_SITES),
  },
  apiUrl: { name: 'OPSBOT_DATADOG_API_URL', deploy: 'operator', parse: parseHttpUrl },
});
