import { createHash } from 'node:crypto';
import { type CommandContext, defineCommand, type Reply } from '../src/command-kit/command-spec.js';
import { formatMinutes } from '../src/config/parsers.js';
import { extendButton, stopButton } from '../src/devenv/buttons.js';
import { checkEnvName, EXAMPLE_ID, isInstanceId, parseEnvRef } from '../src/devenv/instance-id.js';
import { WARN_BEFORE_MS } from '../src/devenv/reaper.js';
import { startDevEnv } from '../src/devenv/start.js';
import { UserFacingError } from '../src/errors.js';
import type { DevEnv } from '../src/integrations/devenv.js';
import { actions, context, header, section, sections } from '../src/slack/blocks.js';
import { escapeText, inlineCode, userMention } from '../src/text/escape.js';
import { sleep } from '../src/time/deadline.js';
import { devenvHome } from './devenv-home.js';

/**
 * What `extend`/`down` accept as a word: read exactly by parseEnvRef (an EC2 id or a name), whose
 * refusal says what an id looks like.
 */
const ENV_REF = /^[A-Za-z0-9_.:-]{1,64}$/;
/** A `--name` word; checkEnvName refuses one that reads as an id, saying why. */
const NAME = /^[a-z][a-z0-9-]{0,40}$/;
const DAY = 86_400_000;
const HOUR = 3_600_000;
/**
 * The shortest `--ttl`: the reaper warns 30 minutes before expiry, and a shorter life would leave
 * no time for that warning (nor to extend).
 */
export const MIN_TTL_MS = WARN_BEFORE_MS;
/** How long `up` follows the instance from pending to running before answering anyway. */
const FOLLOW_MS = 90_000;
const FOLLOW_EVERY_MS = 2_000;

type DevenvContext = CommandContext<'devenv'>;

/** `/devenv`: short-lived EC2 dev environments under your own identity (README.md, "Dev environments"). */
export const devenv = defineCommand({
  name: 'devenv',
  description: 'dev environments on EC2: up, list, extend, down',
  needs: ['devenv'],
  home: devenvHome,
  subcommands: (sub) => [
    sub({
      name: 'up',
      summary: 'start a dev environment from a template',
      args: [
        {
          name: 'template',
          pattern: /^[a-z][a-z0-9-]{0,31}$/,
          hint: 'template',
          accepts: 'a template name from the configuration, like `small`',
        },
      ],
      flags: [
        {
          name: 'ttl',
          kind: 'duration',
          max: 30 * DAY,
          hint: '4h',
          description: 'lifetime (default: the template’s)',
        },
        {
          name: 'name',
          pattern: NAME,
          hint: 'n',
          accepts: 'a name of lowercase letters, digits and dashes, starting with a letter, like `web-1`',
          description: 'a name to refer to it by',
        },
      ],
      examples: ['up small --ttl 4h', 'up small --name web-1'],
      run: async (ctx, { args, flags }) => up(ctx, args.template, flags.ttl, flags.name),
    }),
    sub({
      name: 'list',
      readOnly: true,
      summary: 'your dev environments and when they expire',
      flags: [{ name: 'all', kind: 'boolean', description: 'everyone’s, not only yours (admins)' }],
      examples: ['list'],
      run: async (ctx, { flags }) => {
        if (flags.all && !ctx.isAdmin)
          throw new UserFacingError(
            'Only opsbot admins may list everyone’s dev environments. `/devenv list` shows yours.',
          );
        const envs = await ctx.apis.devenv.list(
          who(ctx),
          flags.all ? {} : { owner: ctx.actor.userId },
          ctx.scope,
        );
        return listReply(envs, ctx.services.clock.now(), Boolean(flags.all));
      },
    }),
    sub({
      name: 'extend',
      summary: 'push back the expiry',
      args: [
        {
          name: 'env',
          pattern: ENV_REF,
          hint: 'id|name',
          accepts: 'an instance id or the name you gave it, like `i-0abc1234` or `web-1`',
        },
      ],
      flags: [
        {
          name: 'by',
          kind: 'duration',
          max: 30 * DAY,
          hint: '2h',
          description: 'how much longer (default 2h)',
        },
      ],
      examples: [`extend ${EXAMPLE_ID} --by 2h`],
      run: async (ctx, { args, flags }) => extend(ctx, args.env, flags.by ?? 2 * HOUR),
    }),
    sub({
      name: 'down',
      summary: 'terminate a dev environment now',
      args: [
        {
          name: 'env',
          pattern: ENV_REF,
          hint: 'id|name',
          accepts: 'an instance id or the name you gave it, like `i-0abc1234` or `web-1`',
        },
      ],
      examples: [`down ${EXAMPLE_ID}`],
      run: async (ctx, { args }) => {
        const env = await mine(ctx, args.env);
        return {
          text: `Terminate ${describe(env)}? This cannot be undone.`,
          blocks: [
            section(`Terminate ${describe(env)}? Its disk goes with it; this cannot be undone.`),
            actions([stopButton(env)]),
          ],
        };
      },
    }),
  ],
  actions: {
    'devenv:extend': async (ctx, value) => extend(ctx, idOf(value), 2 * HOUR),
    'devenv:down': async (ctx, value) => {
      const env = await mine(ctx, idOf(value));
      await ctx.apis.devenv.terminate(who(ctx), env.id, ctx.scope);
      return {
        text: `:wastebasket: ${userMention(ctx.actor.userId)} terminated ${describe(env)}.`,
        responseType: 'in_channel',
      };
    },
  },
});

function who(ctx: DevenvContext) {
  return { userId: ctx.actor.userId, teamId: ctx.actor.teamId, action: ctx.action };
}

function idOf(value: string): string {
  if (!isInstanceId(value))
    throw new UserFacingError('That button is out of date. Run `/devenv list` again.');
  return value;
}

function templates(ctx: DevenvContext) {
  return ctx.services.file.devenv.templates;
}

async function up(
  ctx: DevenvContext,
  template: string,
  ttl: number | undefined,
  given: string | undefined,
): Promise<Reply> {
  const config = ctx.services.file.devenv;
  const chosen = templates(ctx)[template];
  // Refused before any AWS call: what can never work.
  if (!chosen) {
    const known = Object.keys(templates(ctx));
    throw new UserFacingError(
      known.length
        ? `There is no dev-env template ${inlineCode(template)}. Templates: ${known.map((k) => inlineCode(k)).join(', ')}.`
        : 'No dev-env templates are configured. Ask an opsbot admin to add some under `devenv.templates`.',
    );
  }
  const lifetime = ttl ?? chosen.defaultTtl;
  if (lifetime > chosen.maxTtl)
    throw new UserFacingError(
      `${inlineCode(template)} environments live at most ${formatMinutes(chosen.maxTtl)}: use \`--ttl ${formatMinutes(chosen.maxTtl)}\` or less.`,
    );
  if (ttl !== undefined && ttl < MIN_TTL_MS)
    throw new UserFacingError(
      `A dev environment lives at least ${formatMinutes(MIN_TTL_MS)}, so that opsbot can warn you 30 minutes before it expires: use \`--ttl ${formatMinutes(MIN_TTL_MS)}\` or more.`,
    );
  if (given !== undefined) checkEnvName(given);
  const now = ctx.services.clock.now();
  const token = createHash('sha256')
    .update(
      [
        ctx.actor.teamId,
        ctx.actor.userId,
        template,
        given ?? '',
        String(lifetime),
        ctx.triggerId ?? ctx.requestId,
      ].join('|'),
    )
    .digest('hex')
    .slice(0, 40);
  // A name never reads as an instance id (a template `i-…` gets a prefix).
  const name = given ?? `${template.startsWith('i-') ? 'env-' : ''}${template}-${token.slice(0, 4)}`;
  const api = ctx.apis.devenv;
  // The quota and the name hold however many starts run at once, in every replica.
  let env = await startDevEnv(
    {
      api,
      leases: ctx.services.state.leases,
      clock: ctx.services.clock,
      maxPerUser: config.maxPerUser,
    },
    {
      who: who(ctx),
      holder: `${ctx.requestId}:${token}`,
      scope: ctx.scope,
      onWait: () =>
        ctx.progress({
          text: ':hourglass: Another `/devenv up` of yours is still starting; this one follows it.',
        }),
      launch: {
        launchTemplate: chosen.launchTemplate,
        instanceType: chosen.instanceType,
        template,
        name,
        owner: ctx.actor.userId,
        channel: ctx.actor.channelId,
        expiresAt: now + lifetime,
        clientToken: token,
      },
    },
  );
  // The message follows the instance: pending → running.
  const started = ctx.services.clock.now();
  while (env.state === 'pending' && ctx.services.clock.now() - started < FOLLOW_MS) {
    await ctx.progress(envReply(env, ctx.services.clock.now()));
    await sleepFor(ctx, FOLLOW_EVERY_MS);
    env = (await api.get(who(ctx), env.id, ctx.scope)) ?? env;
  }
  return envReply(env, ctx.services.clock.now());
}

async function extend(ctx: DevenvContext, ref: string, by: number): Promise<Reply> {
  const env = await mine(ctx, ref);
  const now = ctx.services.clock.now();
  const maxTtl =
    templates(ctx)[env.template ?? '']?.maxTtl ??
    Math.max(DAY, ...Object.values(templates(ctx)).map((t) => t.maxTtl));
  const next = Math.max(env.expiresAt ?? now, now) + by;
  const limit = now + maxTtl;
  if (next > limit)
    throw new UserFacingError(
      `${describe(env)} may run at most ${formatMinutes(maxTtl)} from now (until ${clock(limit, now)}); extending by ${formatMinutes(by)} would pass that. Try \`--by ${formatMinutes(Math.max(60_000, limit - Math.max(env.expiresAt ?? now, now)))}\`.`,
    );
  await ctx.apis.devenv.setExpiry(who(ctx), env.id, next, ctx.scope);
  return {
    text: `:hourglass_flowing_sand: ${describe(env)} now expires ${clock(next, now)} (in ${formatMinutes(next - now)}).`,
  };
}

/** The instance `ref` names (an id or a name), if the caller may act on it: theirs, or any for an admin. */
async function mine(ctx: DevenvContext, ref: string): Promise<DevEnv> {
  const api = ctx.apis.devenv;
  let env: DevEnv | undefined;
  const parsed = parseEnvRef(ref);
  if (parsed.kind === 'id') {
    const found = await api.get(who(ctx), parsed.id, ctx.scope);
    if (found && !found.managed)
      throw new UserFacingError(
        `${inlineCode(ref)} is not a dev environment opsbot manages, so opsbot leaves it alone.`,
      );
    env = found && found.state !== 'terminated' && found.state !== 'shutting-down' ? found : undefined;
  } else {
    const candidates = await api.list(who(ctx), ctx.isAdmin ? {} : { owner: ctx.actor.userId }, ctx.scope);
    const named = candidates.filter((e) => e.name === parsed.name);
    env = named.find((e) => e.owner === ctx.actor.userId) ?? named[0];
  }
  if (!env)
    throw new UserFacingError(
      `You have no dev environment ${inlineCode(ref)}. \`/devenv list\` shows yours.`,
    );
  if (env.owner !== ctx.actor.userId && !ctx.isAdmin)
    throw new UserFacingError(
      `${describe(env)} belongs to ${env.owner ? userMention(env.owner) : 'someone else'}: only its owner or an opsbot admin may change it.`,
    );
  return env;
}

function describe(env: DevEnv): string {
  return env.name && env.name !== env.id ? `${inlineCode(env.name)} (${env.id})` : inlineCode(env.id);
}

function envReply(env: DevEnv, now: number): Reply {
  const icon =
    env.state === 'running'
      ? ':large_green_circle:'
      : env.state === 'pending'
        ? ':hourglass:'
        : ':white_circle:';
  const lines = [
    `${icon} ${describe(env)} is *${escapeText(env.state)}*${env.instanceType ? ` · ${escapeText(env.instanceType)}` : ''}${env.privateIp ? ` · ${env.privateIp}` : ''}`,
    env.expiresAt
      ? `Expires ${clock(env.expiresAt, now)} (in ${formatMinutes(env.expiresAt - now)}); ${env.expiresAt - now >= WARN_BEFORE_MS ? 'opsbot warns you 30 minutes before.' : 'that is under 30 minutes, so opsbot’s warning comes at its next check.'}`
      : '',
    env.state === 'running'
      ? `Connect with SSM Session Manager: \`aws ssm start-session --target ${env.id}\``
      : 'This message updates when it is running.',
  ].filter(Boolean);
  return {
    text: lines.join('\n'),
    blocks: [...sections(lines), actions([extendButton(env), stopButton(env)])],
  };
}

function listReply(envs: DevEnv[], now: number, all: boolean): Reply {
  if (envs.length === 0)
    return {
      text: all
        ? 'No dev environments are running.'
        : 'You have no dev environments. `/devenv up <template>` starts one.',
    };
  const title = `${envs.length} dev environment${envs.length === 1 ? '' : 's'}${all ? '' : ' of yours'}`;
  const sorted = [...envs].sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0));
  const lines = sorted
    .slice(0, 50)
    .map(
      (e) =>
        `• ${describe(e)} · ${escapeText(e.state)}${e.expiresAt ? ` · ${e.expiresAt > now ? `${formatMinutes(e.expiresAt - now)} left` : 'expired'}` : ' · no valid expiry'}${all && e.owner ? ` · ${userMention(e.owner)}` : ''}`,
    );
  return {
    text: `${title}\n${lines.join('\n')}`,
    blocks: [
      header(title),
      ...sections(lines),
      context('`/devenv extend <name> --by 2h` · `/devenv down <name>`'),
    ],
  };
}

function clock(ms: number, now: number): string {
  const d = new Date(ms);
  const hhmm = `${d.toISOString().slice(11, 16)} UTC`;
  return new Date(now).toISOString().slice(0, 10) === d.toISOString().slice(0, 10)
    ? `at ${hhmm}`
    : `on ${d.toISOString().slice(0, 10)} ${hhmm}`;
}

function sleepFor(ctx: DevenvContext, ms: number): Promise<void> {
  return sleep(ctx.services.clock, ms);
}
