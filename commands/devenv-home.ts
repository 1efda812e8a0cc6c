import type { KnownBlock } from '@slack/web-api';
import type { HomeSection } from '../src/command-kit/command-spec.js';
import { formatMinutes } from '../src/config/parsers.js';
import { extendButton, stopButton } from '../src/devenv/buttons.js';
import type { DevEnv } from '../src/integrations/devenv.js';
import { actions, context, section } from '../src/slack/blocks.js';
import { escapeText, inlineCode } from '../src/text/escape.js';

/** `/devenv`'s App Home section: your dev environments, with Extend 2h and Stop. */
export const devenvHome: HomeSection<'devenv'> = {
  title: 'Your dev environments',
  action: 'devenv:list',
  unavailable: 'Your dev environments could not be listed just now; `/devenv list` shows them.',
  async blocks({ actor, apis, now }) {
    const envs = await apis.devenv.list(
      { userId: actor.userId, teamId: actor.teamId, action: 'devenv:list' },
      { owner: actor.userId },
    );
    return envBlocks(envs, now);
  },
};

function envBlocks(envs: DevEnv[], now: number): KnownBlock[] {
  if (envs.length === 0) return [context('None. `/devenv up <template>` starts one.')];
  return envs.slice(0, 20).flatMap((e, i) => [
    section(
      `${inlineCode(e.name)} (${e.id}) · ${escapeText(e.state)} · ${
        e.expiresAt
          ? e.expiresAt > now
            ? `${formatMinutes(e.expiresAt - now)} left`
            : 'expired'
          : 'no valid expiry'
      }`,
    ),
    actions(
      [extendButton(e), stopButton(e, 'Stop')],
      // Unique per block; the channel after `@` is where the policy judges the buttons.
      e.channel ? `devenv-${i}@${e.channel}` : `devenv-${i}`,
    ),
  ]);
}
