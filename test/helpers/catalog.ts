import { INTEGRATIONS } from '../../src/integrations/index.js';
import { IntegrationRegistry } from '../../src/integrations/registry.js';

/** The secrets of the production build, as the app's provider gets them. */
export const CATALOG = new IntegrationRegistry(INTEGRATIONS).catalog();
export const SECRET_NAMES = [...CATALOG.keys()];
