import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DatadogWebhook, type WebhookDeps } from '../../src/alerts/webhook.js';
import type { AuditEvent } from '../../src/audit/records.js';
import { systemClock } from '../../src/clock.js';
import { HttpServer } from '../../src/http/server.js';
import { SecretValue } from '../../src/log/secret-value.js';
import { createMetrics } from '../../src/metrics.js';
import { DatadogWebhookSender, datadogWebhookBody } from '../../src/sandbox/datadog-webhook-sender.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { captureLogs } from '../helpers/log-capture.js';
import { head, openRaw } from '../helpers/raw-http.js';

/** The webhook component on a real listener, with stand-ins for the outbox and the audit trail. */
async function webhookOn(options: {
  secrets?: string[];
  loaded?: boolean;
  enqueue?: WebhookDeps['outbox']['enqueue'];
  record?: (event: AuditEvent) => Promise<void>;
  /** What checking the secret store finds (a version loaded since the last poll). */
  refreshed?: string[];
}) {
  const refreshes: string[] = [];
  const capture = captureLogs();
  const stored = new Map<string, { topic: string; payload: string }>();
  const audited: AuditEvent[] = [];
  const woken: string[] = [];
  let secrets = options.secrets ?? [canary('dd-webhook')];
  const webhook = new DatadogWebhook({
    credentials: {
      isLoaded: () => options.loaded ?? true,
      inboundField: () => 'webhookSecret',
      inboundCandidates: <S>() =>
        secrets.map((webhookSecret, i) => ({
          integration: 'datadog',
          name: 'opsbot/datadog',
          arn: 'arn:aws:secretsmanager:us-east-1:1:secret:opsbot/datadog',
          versionId: `v${i}`,
          value: new SecretValue({ apiKey: 'a', appKey: 'b', webhookSecret } as S),
        })),
      refreshAfterAuthFailure: async (_integration: string, rejected: string) => {
        refreshes.push(rejected);
        if (options.refreshed) secrets = options.refreshed;
      },
    },
    outbox: {
      enqueue:
        options.enqueue ??
        (async (item) => {
          if (stored.has(item.id)) return false;
          stored.set(item.id, item);
          return true;
        }),
    },
    audit: {
      record: async (event) => {
        await options.record?.(event);
        audited.push(event);
        return { ...event, seq: audited.length, at: '', prevHash: '', hash: '' } as never;
      },
    },
    routes: {
      defaultChannel: 'C0ALERTS',
      routes: [{ match: { tags: ['team:payments'] }, channel: 'C0PAY' }],
    },
    site: 'datadoghq.com',
    clock: systemClock,
    log: capture.log,
    metrics: createMetrics({ defaultMetrics: false }),
    stored: (channel) => {
      woken.push(channel);
    },
  });
  const server = new HttpServer({ log: capture.log, routes: [...webhook.routes] });
  const { port } = await server.listen(0, '127.0.0.1');
  servers.push(server);
  const url = `http://127.0.0.1:${port}/webhooks/datadog`;
  return {
    port,
    stored,
    audited,
    woken,
    capture,
    refreshes,
    sender: (secret = secrets[0] as string) => new DatadogWebhookSender({ url, secret }),
  };
}

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(1_000)));
});

describe('POST /webhooks/datadog', () => {
  it('stores a valid alert under its route, audits it, then answers 202; a retry is stored once', async () => {
    const rig = await webhookOn({});
    const body = datadogWebhookBody({ monitorId: 77, tags: ['team:payments', 'env:prod'], priority: 1 });
    const first = await rig.sender().send(body);
    expect(first.status).toBe(202);
    expect(JSON.parse(first.body)).toEqual({ status: 'accepted' });
    const [item] = [...rig.stored.values()];
    expect(item?.topic).toBe('alerts:C0PAY');
    expect(JSON.parse(item?.payload ?? '{}')).toMatchObject({
      channel: 'C0PAY',
      alert: { id: body.id, monitorId: '77', transition: 'Triggered', priority: 1 },
    });
    expect(rig.woken).toEqual(['C0PAY']);
    const retries = await Promise.all([1, 2, 3].map(() => rig.sender().send(body)));
    expect(retries.map((r) => JSON.parse(r.body).status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(rig.stored.size).toBe(1);
    expect(rig.audited.map((a) => [a.action, a.actor, a.details.monitor, a.details.duplicate])).toEqual([
      ['datadog:alert', 'datadog', '77', undefined],
      ['datadog:alert', 'datadog', '77', true],
      ['datadog:alert', 'datadog', '77', true],
      ['datadog:alert', 'datadog', '77', true],
    ]);
  });

  it('accepts the current and a previous webhookSecret during a rotation, nothing else', async () => {
    const [current, previous] = [canary('dd-webhook'), canary('dd-webhook')];
    const rig = await webhookOn({ secrets: [current, previous] });
    expect((await rig.sender(current).send(datadogWebhookBody())).status).toBe(202);
    expect((await rig.sender(previous).send(datadogWebhookBody())).status).toBe(202);
    const wrong = await rig.sender(`${current}x`).send(datadogWebhookBody());
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toEqual({ error: 'bad_secret' });
    expect((await rig.sender().send(datadogWebhookBody(), { secret: null })).status).toBe(401);
    expect(rig.stored.size).toBe(2);
    assertNoCanary({ logs: rig.capture.text(), responses: wrong.body, audit: rig.audited }, [
      current,
      previous,
    ]);
  });

  it('checks the secret store at once for a secret it has not loaded (Datadog switched first), then accepts it', async () => {
    const [current, rotated] = [canary('dd-webhook'), canary('dd-webhook')];
    const rig = await webhookOn({ secrets: [current], refreshed: [current, rotated] });
    // The rotation function set the new secret on Datadog's webhook before the bot's next poll.
    expect((await rig.sender(rotated).send(datadogWebhookBody())).status).toBe(202);
    expect(rig.refreshes).toEqual(['v0']);
    // A secret nobody has is still refused after the check.
    const forged = await rig.sender(`${rotated}x`).send(datadogWebhookBody());
    expect(forged.status).toBe(401);
    expect(rig.refreshes).toEqual(['v0', 'v0']);
    expect(rig.stored.size).toBe(1);
    assertNoCanary({ logs: rig.capture.text(), responses: forged.body, audit: rig.audited }, [
      current,
      rotated,
    ]);
  });

  it('refuses a request without the header from its headers alone, before any body is read', async () => {
    const rig = await webhookOn({});
    // Declares 10 MB and sends none of it: the answer must not wait for the body.
    const raw = openRaw(
      rig.port,
      head('POST', '/webhooks/datadog', { 'content-type': 'application/json', 'content-length': 10_000_000 }),
    );
    const { received } = await raw.closed;
    expect(received).toMatch(/^HTTP\/1\.1 401 /);
    expect(received).toContain('missing_secret');
  });

  it('answers 413 for a body over 256 KiB and 400 naming the field for what can never be valid', async () => {
    const rig = await webhookOn({});
    const sender = rig.sender();
    expect((await sender.send(Buffer.alloc(256 * 1024 + 1, 32))).status).toBe(413);
    const cases: Array<[string | Record<string, unknown>, string]> = [
      ['{"id": "1", "monitorId": ', '(json)'],
      ['[1,2]', '(body)'],
      [{ ...datadogWebhookBody(), transition: 'Exploded' }, 'transition'],
      [{ ...datadogWebhookBody(), monitorId: 'abc' }, 'monitorId'],
      [{ ...datadogWebhookBody(), id: { nested: true } }, 'id'],
      [{ ...datadogWebhookBody(), tags: ['a', 'b'] }, 'tags'],
      [{ ...datadogWebhookBody(), title: '' }, 'title'],
      [{ ...datadogWebhookBody(), priority: 'urgent' }, 'priority'],
    ];
    for (const [body, field] of cases) {
      const answer = await sender.send(typeof body === 'string' ? body : JSON.stringify(body));
      expect(answer.status, field).toBe(400);
      const parsed = JSON.parse(answer.body);
      if (field === '(json)') expect(parsed.error).toBe('invalid_json');
      else expect(parsed).toMatchObject({ error: 'invalid_payload', field });
    }
    const { id: _, ...missing } = datadogWebhookBody();
    expect(JSON.parse((await sender.send(JSON.stringify(missing))).body)).toMatchObject({
      field: 'id',
      message: 'id: is required',
    });
    expect(rig.stored.size).toBe(0);
  });

  it("answers a bad transition with README's example 400 body, word for word", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /\n(\{"error":"invalid_payload"[^\n]*\})\n/.exec(readme)?.[1];
    expect(example, 'README shows the 400 body on a line of its own').toBeDefined();
    const rig = await webhookOn({});
    const answer = await rig
      .sender()
      .send(JSON.stringify({ ...datadogWebhookBody(), transition: 'Exploded' }));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual(JSON.parse(example as string));
  });

  it('answers 503 (Datadog retries) when the alert cannot be stored or audited, and 202 once it can', async () => {
    let storeWorks = false;
    let auditWorks = false;
    const stored = new Set<string>();
    const rig = await webhookOn({
      enqueue: async (item) => {
        if (!storeWorks) throw new Error('database is locked');
        if (stored.has(item.id)) return false;
        stored.add(item.id);
        return true;
      },
      record: async () => {
        if (!auditWorks) throw new Error('audit store unavailable');
      },
    });
    const body = datadogWebhookBody();
    const down = await rig.sender().send(body);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ error: 'store_unavailable' });
    storeWorks = true;
    expect((await rig.sender().send(body)).status).toBe(503); // stored, not audited: not acknowledged
    auditWorks = true;
    const ok = await rig.sender().deliver(body, { retries: 1, backoffMs: 1 });
    expect(ok.map((r) => r.status)).toEqual([202]);
    expect(JSON.parse(ok[0]?.body ?? '{}')).toEqual({ status: 'duplicate' });
    expect(stored.size).toBe(1);
  });

  it('answers 503 while the datadog secret is not loaded (a secret it cannot check yet is not a bad request)', async () => {
    const rig = await webhookOn({ loaded: false });
    const answer = await rig.sender().send(datadogWebhookBody());
    expect(answer.status).toBe(503);
    expect(rig.stored.size).toBe(0);
  });
});
