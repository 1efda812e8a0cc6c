import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../src/alerts/payload.js';
import {
  type AlertRoutes,
  alertChannels,
  routeAlert,
  topicFor,
  UNROUTED_TOPIC,
} from '../../../src/alerts/routes.js';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';
import { alertOf } from './fixtures.js';

type Route = AlertRoutes['routes'][number];
type Priority = NonNullable<Route['match']['priority']>[number];
type Routed = Pick<AlertEvent, 'tags' | 'scope' | 'priority' | 'monitorId'>;

const routes = (list: Route[], defaultChannel?: string): AlertRoutes => ({
  routes: list,
  ...(defaultChannel ? { defaultChannel } : {}),
});

/** The realistic alert: tags env:prod, team:payments, service:checkout; scope host:web-1,env:prod; P2; monitor 12345678. */
const alert = alertOf();

describe('routeAlert', () => {
  it('takes the first route that matches, not the most specific one', () => {
    const config = routes([
      { match: { tags: ['team:payments'] }, channel: 'C0FIRST' },
      { match: { tags: ['team:payments', 'env:prod'], priority: ['P2'] }, channel: 'C0SECOND' },
    ]);
    expect(routeAlert(config, alert)).toBe('C0FIRST');
  });

  it('skips routes that do not match', () => {
    const config = routes([
      { match: { tags: ['team:search'] }, channel: 'C0SEARCH' },
      { match: { priority: ['P1'] }, channel: 'C0PAGE' },
      { match: { monitorIds: [1] }, channel: 'C0ONE' },
      { match: { tags: ['service:checkout'] }, channel: 'C0CHECKOUT' },
    ]);
    expect(routeAlert(config, alert)).toBe('C0CHECKOUT');
  });

  it('needs every tag of a route: one missing is no match', () => {
    const config = routes(
      [{ match: { tags: ['team:payments', 'env:staging'] }, channel: 'C0PAY' }],
      'C0DEFAULT',
    );
    expect(routeAlert(config, alert)).toBe('C0DEFAULT');
    expect(routeAlert(config, alertOf({ tags: 'team:payments,env:staging' }))).toBe('C0PAY');
  });

  it('counts the comma-separated scope as tags, trimmed', () => {
    const config = routes([{ match: { tags: ['host:web-1', 'az:b'] }, channel: 'C0HOST' }]);
    expect(routeAlert(config, alertOf({ tags: '', scope: 'host:web-1, az:b' }))).toBe('C0HOST');
    expect(routeAlert(config, alertOf({ tags: 'az:b', scope: 'host:web-1' }))).toBe('C0HOST');
    expect(routeAlert(config, alertOf({ tags: '', scope: 'host:web-1' }))).toBeUndefined();
  });

  it('matches tags exactly (case and prefix matter)', () => {
    const config = routes([{ match: { tags: ['team:pay'] }, channel: 'C0PAY' }]);
    expect(routeAlert(config, alert)).toBeUndefined();
    expect(routeAlert(routes([{ match: { tags: ['Env:Prod'] }, channel: 'C0PAY' }]), alert)).toBeUndefined();
  });

  it('matches a priority listed, and never an alert without a priority', () => {
    const config = routes([{ match: { priority: ['P1', 'P2'] }, channel: 'C0PAGE' }], 'C0DEFAULT');
    expect(routeAlert(config, alertOf({ priority: 'P1' }))).toBe('C0PAGE');
    expect(routeAlert(config, alertOf({ priority: 'P2' }))).toBe('C0PAGE');
    expect(routeAlert(config, alertOf({ priority: 'P3' }))).toBe('C0DEFAULT');
    expect(routeAlert(config, alertOf({ priority: '' }))).toBe('C0DEFAULT');
    const allPriorities = routes([{ match: { priority: ['P1', 'P2', 'P3', 'P4', 'P5'] }, channel: 'C0ANY' }]);
    expect(routeAlert(allPriorities, alertOf({ priority: 'P5' }))).toBe('C0ANY');
    expect(routeAlert(allPriorities, alertOf({ priority: '' }))).toBeUndefined();
  });

  it('matches monitor ids given as numbers or as strings', () => {
    const byNumber = routes([{ match: { monitorIds: [999, 12345678] }, channel: 'C0NUM' }]);
    const byString = routes([{ match: { monitorIds: ['12345678'] }, channel: 'C0STR' }]);
    expect(routeAlert(byNumber, alert)).toBe('C0NUM');
    expect(routeAlert(byString, alert)).toBe('C0STR');
    expect(routeAlert(byNumber, alertOf({ monitorId: '1234567' }))).toBeUndefined();
    expect(routeAlert(byString, alertOf({ monitorId: '123456789' }))).toBeUndefined();
  });

  it('needs every dimension a route names', () => {
    const config = routes(
      [{ match: { tags: ['team:payments'], priority: ['P1'], monitorIds: [12345678] }, channel: 'C0ALL' }],
      'C0DEFAULT',
    );
    expect(routeAlert(config, alert)).toBe('C0DEFAULT');
    expect(routeAlert(config, alertOf({ priority: 'P1' }))).toBe('C0ALL');
    expect(routeAlert(config, alertOf({ priority: 'P1', monitorId: '1' }))).toBe('C0DEFAULT');
    expect(routeAlert(config, alertOf({ priority: 'P1', tags: 'team:search' }))).toBe('C0DEFAULT');
  });

  it('lets a route without conditions take everything', () => {
    const config = routes([{ match: {}, channel: 'C0ALL' }], 'C0DEFAULT');
    expect(routeAlert(config, alertOf({ tags: '', scope: '', priority: '' }))).toBe('C0ALL');
  });

  it('falls back to defaultChannel, else to none', () => {
    const config = [{ match: { tags: ['team:search'] }, channel: 'C0SEARCH' }];
    expect(routeAlert(routes(config, 'C0DEFAULT'), alert)).toBe('C0DEFAULT');
    expect(routeAlert(routes(config), alert)).toBeUndefined();
    expect(routeAlert(routes([]), alert)).toBeUndefined();
    expect(routeAlert(routes([], 'C0DEFAULT'), alert)).toBe('C0DEFAULT');
  });

  it('routes with the configuration as the file schema reads it', () => {
    const fileSchema = fileSchemaOf(CONFIG_SECTIONS);
    const file = fileSchema.parse({
      alerts: {
        defaultChannel: 'C0ALERTS',
        routes: [{ match: { tags: ['team:payments'], priority: ['P1', 'P2'] }, channel: 'C0PAYMENTS' }],
      },
    });
    expect(routeAlert(file.alerts, alert)).toBe('C0PAYMENTS');
    expect(routeAlert(file.alerts, alertOf({ priority: 'P4' }))).toBe('C0ALERTS');
    expect(routeAlert(fileSchema.parse({}).alerts, alert)).toBeUndefined();
  });
});

describe('alertChannels and topics', () => {
  it('lists every channel once, the default included', () => {
    const config = routes(
      [
        { match: { tags: ['a'] }, channel: 'C0A' },
        { match: { tags: ['b'] }, channel: 'C0B' },
        { match: { tags: ['c'] }, channel: 'C0A' },
      ],
      'C0B',
    );
    expect(alertChannels(config).sort()).toEqual(['C0A', 'C0B']);
    expect(alertChannels(routes([], 'C0D'))).toEqual(['C0D']);
    expect(alertChannels(routes([]))).toEqual([]);
  });

  it('names one topic per channel, apart from the unrouted one', () => {
    expect(topicFor('C0A')).toBe('alerts:C0A');
    expect(topicFor('C0A')).not.toBe(topicFor('C0B'));
    expect(UNROUTED_TOPIC).toBe('alerts:unrouted');
  });
});

// --- property: routeAlert against a reference written from the documentation -------------------

const TAG_POOL = ['env:prod', 'env:dev', 'team:a', 'team:b', 'host:x', 'service:y'];
const ID_POOL = ['1', '2', '42', '12345678'];
const CHANNELS = ['C0A', 'C0B', 'C0C', 'C0D'];
const PRIORITIES: Priority[] = ['P1', 'P2', 'P3', 'P4', 'P5'];

function reference(config: AlertRoutes, a: Routed): string | undefined {
  const scopeTags = a.scope
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const has = (tag: string) => a.tags.includes(tag) || scopeTags.includes(tag);
  for (const { match, channel } of config.routes) {
    const tagsOk = match.tags === undefined || match.tags.every(has);
    const priorityOk =
      match.priority === undefined ||
      (a.priority !== undefined && match.priority.includes(`P${a.priority}` as Priority));
    const monitorOk =
      match.monitorIds === undefined || match.monitorIds.some((id) => String(id) === a.monitorId);
    if (tagsOk && priorityOk && monitorOk) return channel;
  }
  return config.defaultChannel;
}

const arbRoute: fc.Arbitrary<Route> = fc.record({
  match: fc.record(
    {
      tags: fc.uniqueArray(fc.constantFrom(...TAG_POOL), { maxLength: 3 }),
      priority: fc.uniqueArray(fc.constantFrom(...PRIORITIES), { maxLength: 3 }),
      monitorIds: fc.array(
        fc.oneof(
          fc.constantFrom(...ID_POOL),
          fc.constantFrom(...ID_POOL).map((id) => Number(id)),
        ),
        { maxLength: 3 },
      ),
    },
    { requiredKeys: [] },
  ),
  channel: fc.constantFrom(...CHANNELS),
});

const arbConfig: fc.Arbitrary<AlertRoutes> = fc
  .tuple(fc.array(arbRoute, { maxLength: 6 }), fc.option(fc.constantFrom(...CHANNELS), { nil: undefined }))
  .map(([list, defaultChannel]) => routes(list, defaultChannel));

const arbAlert: fc.Arbitrary<Routed> = fc.record(
  {
    tags: fc.uniqueArray(fc.constantFrom(...TAG_POOL), { maxLength: 4 }),
    scope: fc
      .array(fc.constantFrom(...TAG_POOL), { maxLength: 3 })
      .chain((parts) => fc.constantFrom(parts.join(','), parts.join(', '), ` ${parts.join(' ,')} `)),
    priority: fc.constantFrom(1, 2, 3, 4, 5) as fc.Arbitrary<1 | 2 | 3 | 4 | 5>,
    monitorId: fc.constantFrom(...ID_POOL),
  },
  { requiredKeys: ['tags', 'scope', 'monitorId'] },
);

describe('routeAlert (property)', () => {
  it('agrees with the reference on random routes and alerts', () => {
    fc.assert(
      fc.property(arbConfig, arbAlert, (config, a) => {
        expect(routeAlert(config, a)).toBe(reference(config, a));
      }),
      { numRuns: 2_000 },
    );
  });

  it('only ever answers a configured channel, and ignores the routes after the one it takes', () => {
    fc.assert(
      fc.property(arbConfig, arbAlert, (config, a) => {
        const channel = routeAlert(config, a);
        if (channel === undefined) expect(config.defaultChannel).toBeUndefined();
        else expect(alertChannels(config)).toContain(channel);
        // Routes after the chosen one change nothing.
        const index = config.routes.findIndex((r) => routeAlert(routes([r]), a) !== undefined);
        if (index >= 0) {
          const cut = routes(config.routes.slice(0, index + 1), config.defaultChannel);
          expect(routeAlert(cut, a)).toBe(channel);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
