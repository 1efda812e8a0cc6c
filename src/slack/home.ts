import type { KnownBlock, View } from '@slack/web-api';
import { matchesAction } from '../access/policy.js';
import type { Actor, CoreServices, HomeContext } from '../command-kit/command-spec.js';
import { actionsOf } from '../command-kit/runnable.js';
import type { IntegrationKey } from '../integrations/integration.js';
import type { BuiltIntegrations } from '../integrations/registry.js';
import type { Logger } from '../log.js';
import { channelMention, inlineCode, usergroupMention } from '../text/escape.js';
import { context, divider, header, section } from './blocks.js';

export interface HomeDeps {
  services: Pick<
    CoreServices,
    'policy' | 'membership' | 'file' | 'slack' | 'clock' | 'commands' | 'approvals'
  >;
  integrations: Pick<BuiltIntegrations, 'apis' | 'isConfigured'>;
  log: Logger;
}

/**
 * The App Home tab (`app_home_opened`, and again after each button pressed there): each command's
 * own section (`home` in its module: your dev environments with Extend / Stop…), then what the
 * access policy lets you run, where. A section's buttons carry the channel they belong to in their
 * block id (`…@C0DEV`), and are judged there.
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
  // Each command's own section (dev environments…), for whoever may run its action somewhere.
  for (const module of deps.services.commands) {
    const home = module.home;
    if (!home || !module.needs.every((need) => deps.integrations.isConfigured(need))) continue;
    if (!admin && !rules.some((r) => r.actions.some((a) => matchesAction(a, home.action)))) continue;
    blocks.push(section(`*${home.title}*`));
    try {
      const apis = deps.integrations.apis as HomeContext<IntegrationKey>['apis'];
      blocks.push(...(await home.blocks({ actor, apis, now: clock.now() })));
    } catch (error) {
      deps.log.warn({ err: error, command: module.name }, 'an App Home section could not be built');
      blocks.push(context(home.unavailable));
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
  // Which actions wait for a second person (the approvals' rules), with who decides.
  const held = deps.services.approvals?.heldActions(actionsOf(deps.services.commands));
  if (held && held.size > 0) {
    const needs = [...held.entries()]
      .slice(0, 15)
      .map(([action, rule]) => `• ${inlineCode(action, 40)}: ${rule}`);
    blocks.push(section(`*Needs approval by a second person*\n${needs.join('\n')}`));
  }
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
