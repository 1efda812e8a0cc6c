import { STAGE } from '../credentials/source.js';
import type { SandboxBot } from '../sandbox/sandbox-bot.js';
import type { BegunRotation, RotationOutcome } from '../secret-rotation/service.js';
import { rotateInVault } from './rotate-vault.js';

/**
 * `:rotate <name> [hold|finish]`: rotates a secret the way `/opsbot rotate` does, through the
 * simulated Secrets Manager's RotateSecret and opsbot's real rotation function, saying each step.
 * A value the rotation function makes itself (the audit key, Datadog's keys and webhook secret,
 * Slack's token with token rotation on) needs nothing more. A person-made one (Jira's API token,
 * GitHub's App key, Slack's signing secret) is made at the simulated vendor and put as AWSPENDING
 * first, as the person would; `hold` stops there and `finish` rotates what is held.
 */
export async function rotate(bot: SandboxBot, args: string, say: (line: string) => void): Promise<void> {
  const [integration = '', mode = ''] = args.trim().split(/\s+/);
  const names = bot.provider.names();
  if (!names.includes(integration) || !['', 'hold', 'finish'].includes(mode)) {
    say(`usage: :rotate <${names.join('|')}> [hold|finish]`);
    return;
  }
  if (bot.vault) {
    await rotateInVault(bot, integration, mode, say).catch((error: unknown) =>
      say(
        `${bot.provider.secretName(integration)}: ${error instanceof Error ? error.message : 'rotation failed'}`,
      ),
    );
    return;
  }
  const name = bot.provider.secretName(integration);
  const rotation = bot.app.secretRotation;
  try {
    const personMade = isPersonMade(integration) && !isTokenRotating(bot, integration);
    if (!personMade && mode !== '') {
      say(
        `${name} is made by the rotation function itself: \`:rotate ${integration}\` rotates it (no hold or finish)`,
      );
      return;
    }
    let promoted: () => void = () => undefined;
    if (personMade && mode !== 'finish') {
      const issued = bot.issueSecret(integration as 'jira' | 'github' | 'slack');
      const version = bot.secretsManager.put(name, issued.value, [STAGE.pending]);
      promoted = issued.promoted;
      say(`${name}: ${ISSUED[integration]}: version ${short(version)} staged as AWSPENDING`);
      if (mode === 'hold') {
        say(
          `\`:rotate ${integration} finish\` completes it: RotateSecret with that version, as /opsbot rotate does`,
        );
        return;
      }
    }
    if (mode === 'finish' && !pendingVersion(bot, name)) {
      say(`nothing to finish: ${name} has no pending version; \`:rotate ${integration} hold\` stages one`);
      return;
    }
    const begun = await rotation.begin(integration, { emergency: false });
    say(
      `${name}: RotateSecret: version ${short(begun.token)} is AWSPENDING; the rotation function ${begun.personMade ? 'tests it' : `makes ${ISSUED[integration] ?? 'the new value'}`}`,
    );
    const outcome = await rotation.follow(begun, async (phase) => {
      if (phase === 'current') {
        say(
          `${name}: rotation finished: version ${short(begun.token)} is AWSCURRENT; waiting for the bot to use it…`,
        );
        if (integration === 'datadog')
          say('the bot accepts the new webhookSecret as well as the old one; Datadog now sends the new one');
      }
    });
    if (outcome.status === 'current') promoted();
    say(describeOutcome(bot, name, integration, begun, outcome));
  } catch (error) {
    say(`${name}: ${error instanceof Error ? error.message : 'rotation failed'}`);
  }
}

function describeOutcome(
  bot: SandboxBot,
  name: string,
  integration: string,
  begun: BegunRotation,
  outcome: RotationOutcome,
): string {
  if (outcome.status === 'stopped') return `${name}: the rotation stopped: ${outcome.reason}`;
  if (!outcome.botServes)
    return `${name}: the bot does not use ${short(begun.token)} yet; the old credentials stay valid (try :secrets)`;
  if (integration === 'slack')
    return `${name}: new bot token and signing secret rotated; Slack already uses them, and so does the bot (try /opsbot whoami)`;
  // Atlassian revokes API tokens in a person's account settings: the simulated Jira does it here.
  const retired =
    integration === 'jira' && bot.retireRotated('jira')
      ? `; ${RETIRED.jira}`
      : RETIRED_BY_FUNCTION[integration]
        ? `; ${RETIRED_BY_FUNCTION[integration]}`
        : '';
  return `${name}: the bot uses version ${short(begun.token)}${retired}${AFTER[integration] ?? ''}`;
}

/** Values a person makes (unless Slack token rotation is on). */
const isPersonMade = (integration: string) => ['github', 'jira', 'slack'].includes(integration);

function isTokenRotating(bot: SandboxBot, integration: string): boolean {
  if (integration !== 'slack') return false;
  const value = bot.secretsManager.valueOf(bot.provider.secretName('slack'));
  return value !== undefined && (JSON.parse(value) as Record<string, unknown>).refreshToken !== undefined;
}

/** What the vendor (or the person, or the rotation function) makes for a new version. */
const ISSUED: Record<string, string> = {
  github: 'a new App private key, added to the App',
  jira: 'Jira issued a new API token',
  slack: 'a new bot token and signing secret',
  datadog: 'new Datadog API and application keys, with a new webhookSecret',
  audit: 'a new chainKey (32 random bytes, base64)',
};
const RETIRED: Record<string, string> = { jira: 'the old API token is revoked at Jira' };
const RETIRED_BY_FUNCTION: Record<string, string> = {
  datadog: 'the old API and application keys are revoked at Datadog',
};
const AFTER: Record<string, string> = {
  datadog: ' (the old webhookSecret is still accepted for a grace period)',
  audit:
    ': the next audit record is `audit.key_rotated`, chained with the old key (try /opsbot audit --verify)',
};

function pendingVersion(bot: SandboxBot, name: string): string | undefined {
  return Object.entries(bot.secretsManager.stagesOf(name)).find(
    ([, stages]) => stages.includes(STAGE.pending) && !stages.includes(STAGE.current),
  )?.[0];
}

const short = (versionId: string) => versionId.slice(0, 8);
