import { alertsFeature } from './alerts/feature.js';
import { devenvReaperFeature } from './devenv/feature.js';
import type { Feature } from './feature.js';

/**
 * Every feature of the production build. Adding one: a module exporting a {@link Feature} (its
 * components, built from the integrations it needs), added here. app.ts runs each one's
 * components when its integrations are registered.
 */
export const FEATURES: readonly Feature[] = [alertsFeature(), devenvReaperFeature()];
