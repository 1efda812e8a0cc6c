import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrailAuditSink } from '../../../src/audit/sink.js';
import { systemClock } from '../../../src/clock.js';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { catalogOf } from '../../../src/credentials/secret-spec.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';
import { HttpServer } from '../../../src/http/server.js';
import { createMetrics } from '../../../src/metrics.js';
import {
  AWS_EVENTS_KEY_HEADER,
  AWS_EVENTS_PATH,
  awsEventsComponent,
  SECRET_ACCESS_ACTION,
} from '../../../src/security/aws-events/endpoint.js';
import { eventsSecret } from '../../../src/security/aws-events/events-secret.js';
import type { Detection, SecurityReporter } from '../../../src/security/detection.js';
import { openState } from '../../../src/store/open.js';
import type { State } from '../../../src/store/state.js';
import { assertNoCanary, canary } from '../../helpers/canary.js';
import { CATALOG } from '../../helpers/catalog.js';
import { eventually } from '../../helpers/eventually.js';
import { FakeSecretSource, providerOn } from '../../helpers/fake-source.js';
import { REPO_ROOT } from '../../helpers/source-tree.js';

const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/cloudtrail', name), 'utf8');
const TASK_ROLE = 'arn:aws:iam::111122223333:role/opsbot-task';
const SECRETS = [
  'opsbot/slack',
  'opsbot/github',
  'opsbot/jira',
  'opsbot/datadog',
  'opsbot/audit',
  'opsbot/events',
];

/** A reporter that keeps what it is given (the security feature's real one posts to Slack). */
class KeptReports implements SecurityReporter {
  readonly detections: Detection[] = [];
  failing = false;
  async report(detection: Detection): Promise<void> {
    if (this.failing) throw new Error('the security channel is unreachable');
    this.detections.push(detection);
  }
}

/** The audit store, whose first `n` appends fail as a store outage would. */
function failingFirst(state: State, n: number): State['audit'] {
  let left = n;
  return Object.assign(Object.create(Object.getPrototypeOf(state.audit)), state.audit, {
    append: (event: Parameters<State['audit']['append']>[0]) => {
      if (left > 0) {
        left -= 1;
        return Promise.reject(new Error('the state store is unavailable'));
      }
      return state.audit.append(event);
    },
  });
}

interface Rig {
  url: string;
  state: State;
  reports: KeptReports;
  source: FakeSecretSource;
  logs: () => string;
  post(body: string, key?: string | null): Promise<{ status: number; body: Record<string, unknown> }>;
  records(): Promise<{ action: string; actor: string; details: Record<string, unknown>; seq: number }[]>;
  stop(): Promise<void>;
}

async function startRig(
  options: { apiKey?: string; source?: 'aws' | 'vault'; security?: object; failAppends?: number } = {},
): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-aws-events-'));
  const state = await openState({ kind: 'sqlite', path: join(dir, 'opsbot.db') });
  const source = new FakeSecretSource();
  if (options.apiKey) source.put('opsbot/events', JSON.stringify({ apiKey: options.apiKey }));
  const rig = providerOn(source, {
    clock: systemClock,
    catalog: catalogOf([...CATALOG.values(), eventsSecret]),
  });
  await rig.provider.start(['events']);
  const security = fileSchemaOf(CONFIG_SECTIONS).parse({
    security: options.security ?? { expectedPrincipals: [TASK_ROLE] },
  }).security;
  const reports = new KeptReports();
  const component = awsEventsComponent({
    provider: rig.provider,
    state,
    audit: new TrailAuditSink(failingFirst(state, options.failAppends ?? 0), rig.logs.log, systemClock),
    reporter: reports,
    security,
    secretNames: SECRETS,
    source: options.source ?? 'aws',
    vaultRole: 'opsbot',
    clock: systemClock,
    log: rig.logs.log,
    metrics: createMetrics({ defaultMetrics: false }),
  });
  const server = new HttpServer({ log: rig.logs.log, routes: [...component.routes] });
  const { port } = await server.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}${AWS_EVENTS_PATH}`;
  return {
    url,
    state,
    reports,
    source,
    logs: () => rig.logs.text(),
    async post(body, given) {
      // `null`: no header at all.
      const key = given === undefined ? options.apiKey : given;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { [AWS_EVENTS_KEY_HEADER]: key } : {}) },
        body,
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async records() {
      const found = await state.audit.readAfter(0, 1_000);
      return found
        .filter((r) => r.action === SECRET_ACCESS_ACTION)
        .map((r) => ({ action: r.action, actor: r.actor, details: r.details, seq: r.seq }));
    },
    async stop() {
      await component.stop(Date.now() + 1_000);
      await server.close(1_000);
      rig.provider.stop();
      state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('POST /webhooks/aws-events', () => {
  let rig: Rig;
  const apiKey = canary('events-key');
  beforeEach(async () => {
    rig = await startRig({ apiKey });
  });
  afterEach(async () => {
    await rig.stop();
  });

  it('stores a call on an opsbot secret before answering 202: one audit record, names only', async () => {
    const answer = await rig.post(fixture('get-secret-value.json'));
    expect(answer).toEqual({ status: 202, body: { status: 'accepted', stored: 1 } });
    expect(await rig.records()).toEqual([
      {
        action: 'security:secret_access',
        actor: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/3f4d1c2b9a8e4d6f',
        seq: expect.any(Number),
        details: {
          eventName: 'GetSecretValue',
          secret: 'opsbot/slack',
          principal: 'arn:aws:sts::111122223333:assumed-role/opsbot-task/3f4d1c2b9a8e4d6f',
          sessionIssuer: TASK_ROLE,
          sourceIP: '10.0.12.34',
          eventID: '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
          via: 'cloudtrail',
          expected: true,
        },
      },
    ]);
    // The task role is expected: no detection.
    expect(rig.reports.detections).toEqual([]);
  });

  it("an event whose record could not be stored is stored by EventBridge's retry, not answered as a duplicate", async () => {
    const apiKey = canary('events');
    const rig = await startRig({ apiKey, failAppends: 1 });
    try {
      expect((await rig.post(fixture('put-secret-value.json'))).status).toBe(503);
      expect(await rig.records()).toEqual([]);
      expect(await rig.post(fixture('put-secret-value.json'))).toEqual({
        status: 202,
        body: { status: 'accepted', stored: 1 },
      });
      expect(await rig.post(fixture('put-secret-value.json'))).toEqual({
        status: 202,
        body: { status: 'duplicate', stored: 0 },
      });
      expect((await rig.records()).map((r) => r.details.eventName)).toEqual(['PutSecretValue']);
    } finally {
      await rig.stop();
    }
  });

  it('a duplicate event id is answered 202 without a second record or a second detection', async () => {
    expect((await rig.post(fixture('put-secret-value.json'))).status).toBe(202);
    await eventually(() => rig.reports.detections.length === 1, 'the first detection');
    expect(await rig.post(fixture('put-secret-value.json'))).toEqual({
      status: 202,
      body: { status: 'duplicate', stored: 0 },
    });
    expect(await rig.records()).toHaveLength(1);
    expect(rig.reports.detections).toHaveLength(1);
  });

  it('an unexpected principal becomes a secretAccess detection with the record as evidence', async () => {
    expect((await rig.post(fixture('delete-secret.json'))).status).toBe(202);
    const [record] = await rig.records();
    const [detection] = await eventually(
      () => rig.reports.detections.length > 0 && rig.reports.detections,
      'a detection',
    );
    expect(record?.details.expected).toBe(false);
    expect(detection).toMatchObject({
      rule: 'secretAccess',
      key: 'secretAccess:6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c',
      actor: 'arn:aws:sts::111122223333:assumed-role/ci-deploy/gha-deploy-8841',
      evidence: [record?.seq],
      details: {
        eventName: 'DeleteSecret',
        secret: 'opsbot/github',
        sessionIssuer: 'arn:aws:iam::111122223333:role/ci-deploy',
      },
    });
  });

  it("a scheduled rotation is stored but not reported; a call on another team's secret is not stored", async () => {
    expect((await rig.post(fixture('rotate-secret-scheduled.json'))).body).toEqual({
      status: 'accepted',
      stored: 1,
    });
    const other = fixture('get-secret-value.json')
      .replaceAll('opsbot/slack', 'payments/db')
      .replace('6a7e8feb-b491-4cf7-a9f1-bf3703467718', 'other-event-1');
    expect(await rig.post(other)).toEqual({ status: 202, body: { status: 'ignored', stored: 0 } });
    expect((await rig.records()).map((r) => r.details.eventName)).toEqual(['RotateSecret']);
    expect(rig.reports.detections).toEqual([]);
  });

  it('a reporter that fails does not change the answer, and is logged', async () => {
    rig.reports.failing = true;
    expect((await rig.post(fixture('put-secret-value.json'))).status).toBe(202);
    await eventually(
      () => rig.logs().includes('could not report a secretAccess detection'),
      'the failure logged',
    );
  });

  it('401 without the key or with a wrong one, 413 over 256 KiB, 400 for what is not an event; never the key echoed', async () => {
    expect(await rig.post(fixture('put-secret-value.json'), null)).toEqual({
      status: 401,
      body: { error: 'missing_key' },
    });
    expect(await rig.post(fixture('put-secret-value.json'), canary('wrong'))).toEqual({
      status: 401,
      body: { error: 'bad_key' },
    });
    expect((await rig.post(`"${'x'.repeat(256 * 1024)}"`)).status).toBe(413);
    expect(await rig.post('{not json')).toEqual({
      status: 400,
      body: { error: 'invalid_json', message: 'the body is not valid JSON' },
    });
    expect(await rig.post(JSON.stringify({ id: 'e1', 'detail-type': apiKey }))).toEqual({
      status: 400,
      body: { error: 'invalid_payload', message: 'source: expected a string' },
    });
    expect(await rig.records()).toEqual([]);
    assertNoCanary({ logs: rig.logs() });
  });

  it('503 when the call cannot be stored, so EventBridge retries', async () => {
    rig.state.close();
    expect(await rig.post(fixture('put-secret-value.json'))).toEqual({
      status: 503,
      body: { error: 'store_unavailable' },
    });
  });

  it('takes a rotated key at once: the provider checks the source for a key it has not loaded', async () => {
    const next = canary('events-key');
    rig.source.put('opsbot/events', JSON.stringify({ apiKey: next }));
    expect((await rig.post(fixture('get-secret-value.json'), next)).status).toBe(202);
  });
});

describe('POST /webhooks/aws-events without the events secret', () => {
  it('refuses every request (401) and says once in the log that the secret does not exist', async () => {
    const rig = await startRig();
    try {
      expect(await rig.post(fixture('put-secret-value.json'), canary('key'))).toEqual({
        status: 401,
        body: { error: 'not_configured' },
      });
      expect((await rig.post(fixture('put-secret-value.json'), canary('key'))).status).toBe(401);
      expect(rig.logs().split('the events secret does not exist')).toHaveLength(2);
      expect(await rig.records()).toEqual([]);
    } finally {
      await rig.stop();
    }
  });
});

describe('POST /webhooks/aws-events with the vault source', () => {
  it("stores Vault audit lines once per request id; a read by another role is reported, opsbot's own is not", async () => {
    const apiKey = canary('events-key');
    const rig = await startRig({ apiKey, source: 'vault', security: {} });
    try {
      expect(await rig.post(fixture('vault-audit.jsonl'))).toEqual({
        status: 202,
        body: { status: 'accepted', stored: 2 },
      });
      expect((await rig.records()).map((r) => [r.actor, r.details.secret, r.details.expected])).toEqual([
        ['vault:role/kv-admin', 'opsbot/slack', false],
        ['vault:role/opsbot', 'opsbot/github', true],
      ]);
      const [detection] = await eventually(
        () => rig.reports.detections.length > 0 && rig.reports.detections,
        'a detection',
      );
      expect(detection).toMatchObject({
        key: 'secretAccess:5c2d8e1f-3a4b-4c6d-9e8f-7a6b5c4d3e2f',
        actor: 'vault:role/kv-admin',
        details: { eventName: 'vault:read', secret: 'opsbot/slack', sourceIP: '10.42.7.19', via: 'vault' },
      });
    } finally {
      await rig.stop();
    }
  });

  it('turned off (detections.secretAccess.off), calls are still stored but not reported', async () => {
    const apiKey = canary('events-key');
    const rig = await startRig({ apiKey, security: { detections: { secretAccess: { off: true } } } });
    try {
      expect((await rig.post(fixture('put-secret-value.json'))).status).toBe(202);
      expect(await rig.records()).toHaveLength(1);
      await rig.stop();
      expect(rig.reports.detections).toEqual([]);
    } catch (error) {
      await rig.stop();
      throw error;
    }
  });
});
