import { describe, expect, it } from 'vitest';
import { type Env, loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';

const base: Env = { AWS_REGION: 'eu-west-1' };
const noFile = { readFile: () => '' };

function problemsOf(env: Env): string[] {
  try {
    loadConfig({ ...base, ...env }, noFile);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS', () => {
  it('defaults to 5 minutes: long enough for Slack to switch, short enough after a leak', () => {
    expect(loadConfig(base, noFile).secrets.previousGraceSeconds).toBe(300);
  });

  it.each([
    ['0', 0],
    ['60', 60],
    ['3600', 3_600],
  ])('accepts %s', (text, seconds) => {
    const config = loadConfig({ ...base, OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS: text }, noFile);
    expect(config.secrets.previousGraceSeconds).toBe(seconds);
    expect(config.warnings).toEqual([]);
  });

  it.each(['3601', '-1', '5m', 'soon'])('refuses %s, naming the variable and the range', (text) => {
    expect(problemsOf({ OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS: text })).toEqual([
      `OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS: expected an integer from 0 to 3600, got "${text}"`,
    ]);
  });
});
