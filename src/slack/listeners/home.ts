import type { App } from '@slack/bolt';
import { type HomeDeps, publishHome } from '../home.js';

/** App Home: published when the user opens the Home tab (`app_home_opened`). */
export function registerHome(app: App, deps: HomeDeps): void {
  app.event('app_home_opened', async ({ event, body }) => {
    if (event.tab !== 'home') return;
    const teamId = String((body as { team_id?: string }).team_id ?? '');
    try {
      await publishHome(deps, { userId: event.user, teamId });
    } catch (error) {
      deps.log.warn({ err: error }, 'could not publish App Home');
    }
  });
}
