import type { KnownBlock, View } from '@slack/web-api';
import { matchesAction } from '../access/policy.js';
import { formatMinutes } from '../config/parsers.js';
import { extendButton, stopButton } from '../devenv/buttons.js';
import type { DevEnv } from '../integrations/devenv.js';
import type { BuiltIntegrations } from '../integrations/registry.js';
import type { Logger } from '../log.js';
import { actions, context, divider, header, section } from './blocks.js';
import type { Actor, CoreServices } from './command-spec.js';
import { channelMention, escapeText, inlineCode, usergroupMention } from './escape.js';

export interface HomeDeps {
  services: Pick<CoreServices, 'policy' | 'membership' | 'file' | 'slack' | 'clock'>;
  integrations: Pick<BuiltIntegrations, 'apis' | 'isConfigured'>;
  log: Logger;
}

/**
 * The App Home tab (`app_home_opened`, and again after each button pressed there): your dev
 * environments with Extend / Stop, and what the access policy lets you run, where. Buttons carry
 * the channel their environment was started from in their block id, and are judged there.
 */
export async function publishHome(
  deps: HomeDeps,
  actor: Pick<Actor, 'userId' | 'teamId'>,
  notice?: string,
): Promise<void> {
  const view = await homeView(deps, actor, notice);
  await deps.services.slack.publishHome({ userId: actor.userId, view });
}

export async function homeView(
  deps: HomeDeps,
  actor: Pick<Actor, 'userId' | 'teamId'>,
  notice?: string,
): Promise<View> {
  const { policy, file, clock } = deps.services;
  const admin = policy.isAdmin(actor.userId);
  const rules = await rulesFor(deps, actor.userId);
  const blocks: KnownBlock[] = [header('opsbot')];
  if (notice) blocks.push(section(notice));
  if (
    deps.integrations.isConfigured('devenv') &&
    (admin || rules.some((r) => r.actions.some((a) => matchesAction(a, 'devenv:list'))))
  ) {
    blocks.push(section('*Your dev environments*'));
    try {
      const envs = await deps.integrations.apis.devenv?.list(
        { userId: actor.userId, teamId: actor.teamId, action: 'devenv:list' },
        { owner: actor.userId },
      );
      blocks.push(...envBlocks(envs ?? [], clock.now()));
    } catch (error) {
      deps.log.warn({ err: error }, 'could not list dev environments for App Home');
      blocks.push(context('Your dev environments could not be listed just now; `/devenv list` shows them.'));
    }
    blocks.push(divider());
  }
  blocks.push(section('*What you may run*'));
  const lines = admin
    ? ['Everything: you are an opsbot admin.']
    : rules.length
      ? rules.map(
          (r) =>
            `${r.actions.map((a) => inlineCode(a, 40)).join(', ')} ${r.channels ? `in ${r.channels.map(channelMention).join(', ')}` : 'anywhere'}${r.usergroups?.length ? ` (as a member of ${r.usergroups.map(usergroupMention).join(', ')})` : ''}`,
        )
      : ['Nothing yet beyond help. Ask an opsbot admin to add you to the access policy.'];
  blocks.push(section([...lines, '`/opsbot help` and `/opsbot whoami` everywhere.'].join('\n')));
  blocks.push(
    context(
      `Updated ${new Date(clock.now()).toISOString().slice(11, 16)} UTC · ${file.access.admins.length} admin(s)`,
    ),
  );
  return { type: 'home', blocks: blocks.slice(0, 100) };
}

type Rule = HomeDeps['services']['file']['access']['rules'][number];

/** The rules that name this user (directly, through a user group, or nobody in particular). */
async function rulesFor(deps: HomeDeps, userId: string): Promise<Rule[]> {
  const out: Rule[] = [];
  for (const rule of deps.services.file.access.rules) {
    if (rule.users === undefined && rule.usergroups === undefined) out.push(rule);
    else if (rule.users?.includes(userId)) out.push(rule);
    else if (rule.usergroups) {
      for (const group of rule.usergroups) {
        const member = await deps.services.membership(group, userId).catch(() => false);
        if (member) {
          out.push(rule);
          break;
        }
      }
    }
  }
  return out;
}

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
