import { datadog } from './datadog.js';
import { devenv } from './devenv.js';
import { github } from './github.js';
import type { AnyIntegration } from './integration.js';
import { jira } from './jira.js';
import { slack } from './slack.js';

/**
 * Every integration of the production build. Adding one: write `src/integrations/<name>.ts`
 * (its secret spec, client, auth-failure check and API — see integration.ts), add it here, and
 * declare `needs: ['<name>']` on the commands that use it. Nothing else is wired by hand.
 */
export const INTEGRATIONS: readonly AnyIntegration[] = [slack, github, jira, datadog, devenv];
