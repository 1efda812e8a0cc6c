import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS } from '../../../commands/index.js';
import { INTERACTION_ID } from '../../../src/slack/listeners/interactions.js';

/** infra/slack-manifest.yaml declares exactly what the code handles: commands, shortcuts, events. */
const manifest = parse(
  readFileSync(new URL('../../../infra/slack-manifest.yaml', import.meta.url), 'utf8'),
) as {
  features: {
    slash_commands: Array<{ command: string; url: string }>;
    shortcuts?: Array<{ name: string; type: string; callback_id: string }>;
  };
  settings: { interactivity: { is_enabled: boolean }; event_subscriptions: { bot_events: string[] } };
  oauth_config: { scopes: { bot: string[] } };
};

describe('the Slack app manifest', () => {
  it('registers every slash command, and only those', () => {
    expect(manifest.features.slash_commands.map((c) => c.command).sort()).toEqual(
      COMMANDS.map((c) => `/${c.name}`).sort(),
    );
  });

  it('declares every message shortcut a command handles, with a callback id that is its policy action', () => {
    const handled = COMMANDS.flatMap((c) => Object.keys(c.shortcuts ?? {})).sort();
    const declared = (manifest.features.shortcuts ?? []).filter((s) => s.type === 'message');
    expect(declared.map((s) => s.callback_id).sort()).toEqual(handled);
    expect(handled).toContain('jira:create');
    for (const s of declared) {
      expect(s.callback_id).toMatch(INTERACTION_ID);
      expect(s.name.length).toBeLessThanOrEqual(24);
    }
  });

  it('turns on interactivity and the App Home event opsbot listens to', () => {
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions.bot_events).toContain('app_home_opened');
  });

  it('subscribes to messages in the channels opsbot is in, with the scopes to read them (the leak watch)', () => {
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(
      expect.arrayContaining(['message.channels', 'message.groups']),
    );
    // Not DMs or group DMs: the leak watch reads channels only.
    expect(manifest.settings.event_subscriptions.bot_events).not.toContain('message.im');
    expect(manifest.settings.event_subscriptions.bot_events).not.toContain('message.mpim');
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining(['channels:history', 'groups:history']),
    );
  });
});
