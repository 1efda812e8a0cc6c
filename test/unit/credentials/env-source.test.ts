import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { envVariableFor } from '../../../src/config/secret-variables.js';
import type { Env } from '../../../src/config.js';
import { createEnvSource } from '../../../src/credentials/env-source.js';
import type { SecretSourceErrorKind } from '../../../src/credentials/source.js';
import { assertNoCanary, canary } from '../../helpers/canary.js';
import { SECRET_NAMES } from '../../helpers/catalog.js';
import { expectSourceError } from '../../helpers/source-error.js';

const slackJson = () => JSON.stringify({ botToken: canary('xoxb'), signingSecret: canary('sign') });

const sourceError = (call: Promise<unknown>, kind: SecretSourceErrorKind, message: RegExp) =>
  expectSourceError(call, kind, message);

describe('createEnvSource', () => {
  it('reads OPSBOT_SECRET_<INTEGRATION> as the only, current version', async () => {
    const value = slackJson();
    const source = createEnvSource({
      names: SECRET_NAMES,
      env: { OPSBOT_SECRET_SLACK: value },
      prefix: 'opsbot/',
    });
    expect(source.kind).toBe('env');

    const description = await source.describe('opsbot/slack');
    expect(description.name).toBe('opsbot/slack');
    expect(description.arn).toBe('env:OPSBOT_SECRET_SLACK');
    expect(description.versions.size).toBe(1);
    const [id, stages] = [...description.versions][0] ?? [];
    expect(id).toMatch(/^env-[0-9a-f]{16}$/);
    expect(stages).toEqual(['AWSCURRENT']);

    const version = await source.getVersion('opsbot/slack', id as string);
    expect(version).toMatchObject({ name: 'opsbot/slack', arn: 'env:OPSBOT_SECRET_SLACK', versionId: id });
    expect(version.stages).toEqual(['AWSCURRENT']);
    expect(version.secretString.reveal()).toBe(value);
    assertNoCanary({ description, version });
  });

  it('derives a version id that is stable in a source, changes with the value, and reveals nothing', async () => {
    const value = slackJson();
    const env: Env = { OPSBOT_SECRET_SLACK: value };
    const source = createEnvSource({ names: SECRET_NAMES, env, prefix: 'opsbot/' });
    const idOf = async (s = source) => [...(await s.describe('opsbot/slack')).versions.keys()][0] as string;

    const id = await idOf();
    expect(await idOf()).toBe(id);
    expect(id).not.toContain(createHash('sha256').update(value).digest('hex').slice(0, 16));
    // Another process (here: another source) keys its ids differently, so ids cannot confirm guesses.
    expect(await idOf(createEnvSource({ names: SECRET_NAMES, env, prefix: 'opsbot/' }))).not.toBe(id);

    env.OPSBOT_SECRET_SLACK = slackJson();
    const changed = await idOf();
    expect(changed).not.toBe(id);
    await sourceError(source.getVersion('opsbot/slack', id), 'not_found', /OPSBOT_SECRET_SLACK changed/);
    expect((await source.getVersion('opsbot/slack', changed)).secretString.reveal()).toBe(
      env.OPSBOT_SECRET_SLACK,
    );
  });

  it('reports an absent or empty variable as not_found, naming it', async () => {
    const source = createEnvSource({
      names: SECRET_NAMES,
      env: { OPSBOT_SECRET_JIRA: '  ' },
      prefix: 'opsbot/',
    });
    await sourceError(
      source.describe('opsbot/github'),
      'not_found',
      /OPSBOT_SECRET_GITHUB is not set \(or empty\)/,
    );
    await sourceError(source.describe('opsbot/jira'), 'not_found', /OPSBOT_SECRET_JIRA is not set/);
    await sourceError(source.getVersion('opsbot/datadog', 'env-0'), 'not_found', /OPSBOT_SECRET_DATADOG/);
  });

  it('maps names by the prefix and refuses unknown ones', async () => {
    const env = { OPSBOT_SECRET_SLACK: slackJson() };
    expect((await createEnvSource({ names: SECRET_NAMES, env, prefix: '' }).describe('slack')).arn).toBe(
      'env:OPSBOT_SECRET_SLACK',
    );
    expect((await createEnvSource({ names: SECRET_NAMES, env }).describe('opsbot/slack')).name).toBe(
      'opsbot/slack',
    );
    await sourceError(
      createEnvSource({ names: SECRET_NAMES, env, prefix: 'opsbot/' }).describe('prod/slack'),
      'not_found',
      /knows only opsbot\/slack, .*OPSBOT_SECRET_SLACK/,
    );
    expect(envVariableFor('datadog')).toBe('OPSBOT_SECRET_DATADOG');
  });
});
