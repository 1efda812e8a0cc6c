import { alertsFeature } from './alerts/feature.js';
import { approvalsFeature } from './approvals/feature.js';
import { emptyFileOf, type OpsbotFile } from './config/file-schema.js';
import { type ConfigSection, configSections } from './config/section.js';
import { type Variable, variablesOf } from './config/variables.js';
import { devenvReaperFeature } from './devenv/feature.js';
import type { Feature } from './feature.js';
import { INTEGRATIONS } from './integrations/index.js';
import { leakWatchFeature } from './leak-watch/feature.js';
import { secretsReminderFeature } from './secret-rotation/feature.js';
import { accessReviewFeature } from './security/access-review/feature.js';
import { securityFeature } from './security/feature.js';

/**
 * Every feature of the production build. Adding one: a module exporting a {@link Feature} (its
 * components, built from the integrations it needs, and its configuration section if it reads
 * one), added here. app.ts runs each one's components when its integrations are registered.
 */
export const FEATURES: readonly Feature[] = [
  alertsFeature(),
  devenvReaperFeature(),
  leakWatchFeature(),
  secretsReminderFeature(),
  securityFeature(),
  accessReviewFeature(),
  approvalsFeature(),
];

/**
 * The configuration sections in the production build (the file's sections and the environment
 * variables): those of its integrations (`src/integrations/index.ts`) and of its features. The
 * loader takes them as a parameter (`loadConfig(env, { sections: CONFIG_SECTIONS })`):
 * configuration knows no integration.
 */
export const CONFIG_SECTIONS: readonly ConfigSection[] = configSections(INTEGRATIONS, FEATURES);

/**
 * Every environment variable of the production build: the core's and those its integrations and
 * features contribute. infra/ builds the container environment's allow-list from it; README's table
 * is held to it (test/unit/config/variables.test.ts).
 */
export const VARIABLES: readonly Variable[] = variablesOf(CONFIG_SECTIONS);

/** What an empty configuration file means in the production build: nobody may run anything but help and whoami. */
export const EMPTY_FILE: OpsbotFile = emptyFileOf(CONFIG_SECTIONS);
