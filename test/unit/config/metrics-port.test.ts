import { describe, expect, it } from 'vitest';
import { type Env, loadConfig } from '../../../src/config.js';
import { ConfigError } from '../../../src/errors.js';

const files = { readFile: () => 'access:\n  admins: [U0ADMIN]\n' };
const base: Env = { AWS_REGION: 'eu-west-1' };

function problemsOf(env: Env): string[] {
  try {
    loadConfig(env, files);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('OPSBOT_METRICS_PORT', () => {
  it('is unset by default: /metrics stays on PORT', () => {
    expect(loadConfig(base, files).metricsPort).toBeUndefined();
  });

  it('is read like PORT, and is a known setting', () => {
    const config = loadConfig({ ...base, PORT: '8080', OPSBOT_METRICS_PORT: ' 9100 ' }, files);
    expect(config.metricsPort).toBe(9100);
    expect(config.port).toBe(8080);
    expect(config.warnings).toEqual([]);
  });

  it('must be a port number, and not the same as PORT', () => {
    expect(problemsOf({ ...base, OPSBOT_METRICS_PORT: '0x50' })).toEqual([
      'OPSBOT_METRICS_PORT: expected an integer from 1 to 65535, got "0x50"',
    ]);
    expect(problemsOf({ ...base, OPSBOT_METRICS_PORT: '70000' })).toEqual([
      'OPSBOT_METRICS_PORT: expected an integer from 1 to 65535, got "70000"',
    ]);
    expect(problemsOf({ ...base, PORT: '3000', OPSBOT_METRICS_PORT: '3000' })).toEqual([
      'OPSBOT_METRICS_PORT: must differ from PORT (3000): /metrics moves to a port of its own',
    ]);
    expect(problemsOf({ ...base, OPSBOT_METRICS_PORT: '3000' })).toHaveLength(1); // PORT defaults to 3000
  });
});
