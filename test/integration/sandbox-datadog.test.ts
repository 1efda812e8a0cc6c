import { client, v1, v2 } from '@datadog/datadog-api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDatadog } from '../../src/sandbox/datadog.js';

// The real @datadog/datadog-api-client against the simulated service: every answer must deserialize
// into the client's models, and errors must reach it as ApiException with the right `code`.

const API_KEY = 'dd-api-key-1';
const APP_KEY = 'dd-app-key-1';
const service = new SimulatedDatadog();
let url = '';

/** The response headers of the last call: ApiException carries only `code` and `body`, so tap `fetch`. */
let lastHeaders: Headers | undefined;

function configure(keys: { apiKey: string; appKey: string }, extra: { enableRetry?: boolean } = {}) {
  return client.createConfiguration({
    authMethods: { apiKeyAuth: keys.apiKey, appKeyAuth: keys.appKey },
    baseServer: new client.BaseServerConfiguration(url, {}),
    fetch: async (input: string, init: RequestInit) => {
      const response = await fetch(input, init);
      lastHeaders = response.headers;
      return response;
    },
    ...extra,
  });
}

async function apiError(promise: Promise<unknown>): Promise<client.ApiException<v1.APIErrorResponse>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(client.ApiException);
  return error as client.ApiException<v1.APIErrorResponse>;
}

beforeAll(async () => {
  ({ url } = await service.start());
  service.addKeys(API_KEY, APP_KEY);
});
afterAll(() => service.stop());

describe('SimulatedDatadog with the real datadog-api-client', () => {
  const config = () => configure({ apiKey: API_KEY, appKey: APP_KEY });

  it('lists monitors into Monitor models and filters by monitor_tags and name', async () => {
    const monitors = new v1.MonitorsApi(config());
    const all = await monitors.listMonitors();
    expect(all.map((m) => m.id)).toEqual([1001, 1002, 1003, 1004]);
    for (const m of all) {
      expect(m).toBeInstanceOf(v1.Monitor);
      expect(m._unparsed).toBeUndefined();
      expect(m.created).toBeInstanceOf(Date);
      expect(m.options).toBeInstanceOf(v1.MonitorOptions);
    }
    expect(all.map((m) => [m.overallState, m.priority])).toEqual([
      ['Alert', 1],
      ['Warn', 2],
      ['OK', null],
      ['No Data', null],
    ]);
    expect(all[0]?.type).toBe('metric alert');
    expect(all[0]?.tags).toEqual(['team:web', 'env:prod']);

    const payments = await monitors.listMonitors({ monitorTags: 'team:payments', groupStates: 'alert,warn' });
    expect(payments.map((m) => m.name)).toEqual(['Checkout latency', 'Queue depth']);
    expect((await monitors.listMonitors({ monitorTags: 'team:web,env:prod' })).map((m) => m.id)).toEqual([
      1001,
    ]);
    expect(await monitors.listMonitors({ monitorTags: 'team:web,env:staging' })).toEqual([]);
    expect((await monitors.listMonitors({ name: 'disk' })).map((m) => m.id)).toEqual([1003]);
    expect((await monitors.listMonitors({ page: 1, pageSize: 3 })).map((m) => m.id)).toEqual([1004]);

    const badPage = await apiError(monitors.listMonitors({ pageSize: 1001 }));
    expect(badPage.code).toBe(400);
    expect(badPage.body.errors[0]).toMatch(/page_size/);
  });

  it('gets one monitor, and an unknown id is a 404 ApiException', async () => {
    const monitors = new v1.MonitorsApi(config());
    const m = await monitors.getMonitor({ monitorId: 1002 });
    expect(m).toMatchObject({
      id: 1002,
      name: 'Checkout latency',
      overallState: 'Warn',
      tags: ['team:payments'],
    });

    const missing = await apiError(monitors.getMonitor({ monitorId: 9999 }));
    expect(missing.code).toBe(404);
    expect(missing.body).toBeInstanceOf(v1.APIErrorResponse);
    expect(missing.body.errors).toEqual(['Monitor not found']);
  });

  it('creates, lists and cancels a downtime in the v2 wire format', async () => {
    const downtimes = new v2.DowntimesApi(config());
    const end = new Date(Date.now() + 3_600_000);
    const created = await downtimes.createDowntime({
      body: {
        data: {
          type: 'downtime',
          attributes: {
            scope: 'env:prod',
            monitorIdentifier: { monitorId: 1002 },
            schedule: { end },
            message: 'deploy in progress',
          },
        },
      },
    });
    expect(created).toBeInstanceOf(v2.DowntimeResponse);
    const data = created.data;
    expect(data?._unparsed).toBeUndefined();
    expect(data?.type).toBe('downtime');
    expect(data?.attributes?.monitorIdentifier).toBeInstanceOf(v2.DowntimeMonitorIdentifierId);
    expect(data?.attributes?.monitorIdentifier).toMatchObject({ monitorId: 1002 });
    expect(data?.attributes).toMatchObject({
      scope: 'env:prod',
      status: 'active',
      message: 'deploy in progress',
    });
    const schedule = data?.attributes?.schedule as v2.DowntimeScheduleOneTimeResponse;
    expect(schedule).toBeInstanceOf(v2.DowntimeScheduleOneTimeResponse);
    // The client serializes dates to whole seconds (`2026-01-01T00:00:00Z`).
    expect(schedule.end?.getTime()).toBe(Math.floor(end.getTime() / 1000) * 1000);
    expect(data?.relationships?.monitor?.data).toMatchObject({ id: '1002', type: 'monitors' });
    const id = data?.id ?? '';
    expect(service.downtimes.map((d) => d.id)).toContain(id);

    const listed = await downtimes.listDowntimes({ currentOnly: true });
    expect(listed).toBeInstanceOf(v2.ListDowntimesResponse);
    expect(listed.data?.map((d) => d.id)).toContain(id);
    expect(listed.meta?.page?.totalFilteredCount).toBe(listed.data?.length);

    await expect(downtimes.cancelDowntime({ downtimeId: id })).resolves.toBeUndefined();
    const after = await downtimes.listDowntimes({ currentOnly: true });
    expect(after.data?.map((d) => d.id)).not.toContain(id);
    const everything = await downtimes.listDowntimes();
    const canceled = everything.data?.find((d) => d.id === id);
    expect(canceled?.attributes?.status).toBe('canceled');
    expect(canceled?.attributes?.canceled).toBeInstanceOf(Date);

    const unknown = await apiError(downtimes.cancelDowntime({ downtimeId: 'no-such-downtime' }));
    expect(unknown.code).toBe(404);
  });

  it('refuses a downtime for an unknown monitor with a 400', async () => {
    const downtimes = new v2.DowntimesApi(config());
    const error = await apiError(
      downtimes.createDowntime({
        body: {
          data: { type: 'downtime', attributes: { scope: '*', monitorIdentifier: { monitorId: 42 } } },
        },
      }),
    );
    expect(error.code).toBe(400);
    expect(error.body.errors[0]).toMatch(/Monitor 42/);
  });

  it('answers 403 to unknown keys, a mismatched pair, and a revoked pair', async () => {
    const unknown = await apiError(
      new v1.MonitorsApi(configure({ apiKey: 'nope', appKey: 'nope' })).listMonitors(),
    );
    expect(unknown.code).toBe(403);
    expect(unknown.body.errors).toEqual(['Forbidden']);
    const mismatched = configure({ apiKey: API_KEY, appKey: 'other-app-key' });
    expect((await apiError(new v1.MonitorsApi(mismatched).getMonitor({ monitorId: 1001 }))).code).toBe(403);

    service.addKeys('old-api', 'old-app');
    const rotated = new v2.DowntimesApi(configure({ apiKey: 'old-api', appKey: 'old-app' }));
    await expect(rotated.listDowntimes()).resolves.toBeInstanceOf(v2.ListDowntimesResponse);
    service.revokeKeys('old-api');
    const stale = await apiError(rotated.listDowntimes());
    expect(stale.code).toBe(403);
    expect(service.calls.at(-1)).toEqual({ method: 'GET', path: '/api/v2/downtime', status: 403 });
  });

  it('answers 429 with X-RateLimit-* headers once, which the client sees only via its fetch', async () => {
    const monitors = new v1.MonitorsApi(config());
    service.limitNext(7);
    const limited = await apiError(monitors.listMonitors());
    expect(limited.code).toBe(429);
    expect(limited.body.errors).toEqual(['Rate limit exceeded']);
    expect(Object.keys(limited)).not.toContain('headers');
    expect(lastHeaders?.get('x-ratelimit-reset')).toBe('7');
    expect(lastHeaders?.get('x-ratelimit-remaining')).toBe('0');
    expect(lastHeaders?.get('x-ratelimit-limit')).toBe('100');
    expect(lastHeaders?.get('x-ratelimit-period')).toBe('10');
    expect(await monitors.listMonitors()).toHaveLength(4);
  });

  it('lets the client retry a 429 after X-RateLimit-Reset when enableRetry is on', async () => {
    const retrying = new v1.MonitorsApi(
      configure({ apiKey: API_KEY, appKey: APP_KEY }, { enableRetry: true }),
    );
    service.limitNext(1);
    const started = Date.now();
    const m = await retrying.getMonitor({ monitorId: 1001 });
    expect(m.overallState).toBe('Alert');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(service.calls.slice(-2).map((c) => c.status)).toEqual([429, 200]);
  });

  it('bounds and validates request bodies in the Datadog error shape', async () => {
    const headers = {
      'DD-API-KEY': API_KEY,
      'DD-APPLICATION-KEY': APP_KEY,
      'content-type': 'application/json',
    };
    const post = (body: string) => fetch(`${url}/api/v2/downtime`, { method: 'POST', headers, body });
    const bad = await post('{not json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ errors: ['Invalid JSON in request body'] });
    const wrongType = await post(JSON.stringify({ data: { type: 'monitor', attributes: {} } }));
    expect(wrongType.status).toBe(400);
    const huge = await post(
      JSON.stringify({ data: { type: 'downtime', attributes: { scope: 'x'.repeat(70_000) } } }),
    );
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ errors: ['Request body too large'] });
    const elsewhere = await fetch(`${url}/api/v1/dashboard`, { headers });
    expect(elsewhere.status).toBe(404);
    expect(service.calls.length).toBeLessThanOrEqual(1000);
  });
});
