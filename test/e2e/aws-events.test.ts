import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_POLICY, type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { AWS_EVENTS_KEY_HEADER, AWS_EVENTS_PATH } from '../../src/security/aws-events/endpoint.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { eventually } from '../helpers/eventually.js';
import { REPO_ROOT } from '../helpers/source-tree.js';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/cloudtrail', name), 'utf8');
const TASK_ROLE = 'arn:aws:iam::111122223333:role/opsbot-task';
const CONFIG = SAMPLE_POLICY.replace(
  'security:\n  channel: C0SECURITY\n',
  `security:\n  channel: C0SECURITY\n  expectedPrincipals: ["${TASK_ROLE}"]\n`,
);

/**
 * `POST /webhooks/aws-events` on the sandbox bot, as production wires it (the security feature's
 * component on the bot's port): the `events` secret from its Secrets Manager, State (SQLite), the
 * audit trail, and detections posted to #security by the real reporter.
 */
describe('POST /webhooks/aws-events on the sandbox bot', () => {
  let bot: SandboxBot;
  let url: string;
  let apiKey: string;

  beforeAll(async () => {
    bot = await startSandboxBot({ configYaml: CONFIG, security: {} });
    await eventually(() => bot.provider.isLoaded('events'), 'the events secret to load');
    apiKey = (JSON.parse(bot.secretsManager.valueOf('opsbot/events') ?? '{}') as { apiKey: string }).apiKey;
    url = `${bot.base}${AWS_EVENTS_PATH}`;
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
  });

  const post = async (body: string, key: string | null = apiKey) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { [AWS_EVENTS_KEY_HEADER]: key } : {}) },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const secretAccessRecords = async () =>
    (await bot.state.audit.readAfter(0, 1_000)).filter((r) => r.action === 'security:secret_access');
  const securityPosts = () => bot.slack.messages('C0SECURITY');

  it('refuses a wrong key (401), an oversized body (413) and what is not an EventBridge event (400)', async () => {
    expect((await post(fixture('get-secret-value.json'), canary('wrong'))).status).toBe(401);
    expect((await post(fixture('get-secret-value.json'), null)).status).toBe(401);
    expect((await post(`"${'x'.repeat(300 * 1024)}"`)).status).toBe(413);
    expect((await post('{"detail-type": 1}')).status).toBe(400);
    expect(await secretAccessRecords()).toEqual([]);
  });

  it('stores the task role reading its secret (202, one record, expected) and reports nothing', async () => {
    expect(await post(fixture('get-secret-value.json'))).toEqual({
      status: 202,
      body: { status: 'accepted', stored: 1 },
    });
    const [record] = await secretAccessRecords();
    expect(record).toMatchObject({
      actor: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/3f4d1c2b9a8e4d6f',
      details: { eventName: 'GetSecretValue', secret: 'opsbot/slack', expected: true },
    });
    expect(securityPosts()).toEqual([]);
  });

  it('an unexpected writer is posted to #security once, however often EventBridge delivers the event', async () => {
    expect((await post(fixture('put-secret-value.json'))).status).toBe(202);
    expect(await post(fixture('put-secret-value.json'))).toEqual({
      status: 202,
      body: { status: 'duplicate', stored: 0 },
    });
    const records = (await secretAccessRecords()).filter((r) => r.details.eventName === 'PutSecretValue');
    expect(records).toHaveLength(1);
    const post1 = await eventually(() => securityPosts().at(0), 'the detection in #security', 15_000);
    expect(post1.text).toMatch(/mallory/);
    expect(post1.text).toMatch(/opsbot\/datadog/);
    expect(JSON.stringify(post1.blocks)).toContain(`#${records[0]?.seq}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(securityPosts()).toHaveLength(1);
    const detected = (await bot.state.audit.readAfter(0, 1_000)).filter(
      (r) => r.action === 'security:detected',
    );
    expect(detected.map((r) => r.details.rule)).toEqual(['secretAccess']);
    assertNoCanary(
      {
        logs: bot.logLines.join('\n'),
        audit: await bot.state.audit.readAfter(0, 1_000),
        slack: bot.slack.calls,
      },
      [...bot.secrets(), apiKey],
    );
  });
});
