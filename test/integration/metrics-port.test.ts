import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { type RunningOpsbot, startOpsbot } from '../../src/app.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { CONFIG_SECTIONS, FEATURES } from '../../src/features.js';
import { INTEGRATIONS } from '../../src/integrations/index.js';
import { SimulatedSlack } from '../../src/sandbox/slack.js';
import { freePort } from '../helpers/process.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The whole bot (env secret source) with `extra` settings, on 127.0.0.1 and a port of its choosing. */
async function startBot(extra: Record<string, string>): Promise<RunningOpsbot> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-metrics-'));
  const slack = new SimulatedSlack();
  await slack.start();
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(configPath, 'access:\n  admins: [U0ADMIN]\n');
  const env = {
    OPSBOT_SECRET_SOURCE: 'env',
    OPSBOT_SECRET_SLACK: JSON.stringify({
      botToken: 'xoxb-metrics-test',
      signingSecret: 'metrics-test-signing',
    }),
    OPSBOT_CONFIG: configPath,
    OPSBOT_STATE: `sqlite:${join(dir, 'opsbot.db')}`,
    OPSBOT_SLACK_API_URL: slack.apiUrl,
    ...extra,
  };
  const config = { ...loadConfig(env, { sections: CONFIG_SECTIONS }), port: 0 };
  const app = await startOpsbot({
    config,
    env,
    integrations: INTEGRATIONS,
    commands: COMMANDS,
    features: FEATURES,
    clock: systemClock,
    logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
    host: '127.0.0.1',
    defaultMetrics: false,
  });
  cleanups.push(async () => {
    await app.stop(2_000);
    await slack.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return app;
}

describe('OPSBOT_METRICS_PORT', () => {
  it('serves /metrics on its own port only, bound to the same host, and not on PORT', async () => {
    const metricsPort = await freePort();
    const app = await startBot({ OPSBOT_METRICS_PORT: String(metricsPort) });
    const main = `http://127.0.0.1:${app.address.port}`;
    expect((await fetch(`${main}/metrics`)).status).toBe(404);
    expect((await fetch(`${main}/healthz`)).status).toBe(200);
    expect(app.metricsAddress).toMatchObject({ address: '127.0.0.1', port: metricsPort });
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('opsbot_slack_requests_total');
    // Only /metrics there: the Slack endpoint and health stay on PORT.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/slack/events`, { method: 'POST' })).status).toBe(
      404,
    );
  });

  it('leaves /metrics on PORT when unset', async () => {
    const app = await startBot({});
    expect(app.metricsAddress).toBeUndefined();
    const metrics = await fetch(`http://127.0.0.1:${app.address.port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('opsbot_http_refused_total');
  });
});
