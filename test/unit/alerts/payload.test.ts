import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AlertEvent,
  alertDedupeKey,
  cycleOf,
  DATE_WINDOW,
  datadogUrl,
  LIMITS,
  parseAlert,
  TRANSITIONS,
} from '../../../src/alerts/payload.js';
import { alertOf, datadogBody, RECEIVED_AT } from './fixtures.js';

/** Every key of the documented webhook template (README.md, "Datadog"). */
const TEMPLATE_KEYS = [
  'id',
  'monitorId',
  'cycleKey',
  'transition',
  'title',
  'message',
  'priority',
  'scope',
  'tags',
  'snapshot',
  'link',
  'date',
  'orgId',
  'hostname',
] as const;
const REQUIRED = ['id', 'monitorId', 'cycleKey', 'transition', 'title'] as const;
const KEY_PATTERN = /^dd:[0-9a-f]{40}$/;

function refusal(body: unknown): { field: string; problem: string } {
  const parsed = parseAlert(body, RECEIVED_AT);
  if (parsed.ok) throw new Error(`expected ${JSON.stringify(body).slice(0, 200)} to be refused`);
  return { field: parsed.field, problem: parsed.problem };
}

function without(key: string): Record<string, unknown> {
  const body = datadogBody();
  delete body[key];
  return body;
}

describe('parseAlert: a realistic notification', () => {
  it('reads every field of the template', () => {
    const parsed = parseAlert(datadogBody(), RECEIVED_AT);
    expect(parsed).toEqual({
      ok: true,
      alert: {
        id: '7423456789012345678',
        monitorId: '12345678',
        cycleKey: '7305467237431923111',
        transition: 'Triggered',
        title: '[Triggered on {host:web-1}] High CPU on web-1',
        message: '@slack-ops CPU has been above 90% for 5 minutes.\n\nSee the runbook.',
        priority: 2,
        scope: 'host:web-1,env:prod',
        tags: ['env:prod', 'team:payments', 'service:checkout'],
        snapshot: 'https://p.datadoghq.com/snapshot/view/dd-snapshots-prod/org_1/2023-11-14/abc.png',
        link: 'https://app.datadoghq.com/event/event?id=7423456789012345678',
        at: 1_699_999_990_000,
        receivedAt: RECEIVED_AT,
        hostname: 'web-1',
      } satisfies AlertEvent,
    });
  });

  it('needs only the required fields: the rest default to empty', () => {
    const parsed = parseAlert(
      { id: '1', monitorId: '2', cycleKey: 'abc', transition: 'Recovered', title: 'Disk OK' },
      RECEIVED_AT,
    );
    expect(parsed).toEqual({
      ok: true,
      alert: {
        id: '1',
        monitorId: '2',
        cycleKey: 'abc',
        transition: 'Recovered',
        title: 'Disk OK',
        message: '',
        scope: '',
        tags: [],
        at: RECEIVED_AT,
        receivedAt: RECEIVED_AT,
        hostname: '',
      },
    });
  });

  it('ignores keys the template does not have', () => {
    const alert = alertOf({ extra: { nested: true } });
    expect(alert).not.toHaveProperty('extra');
  });

  it('takes ids as numbers from a hand-edited template, and trims them', () => {
    const alert = alertOf({ id: 42, monitorId: ' 12345678 ', cycleKey: 7 });
    expect(alert).toMatchObject({ id: '42', monitorId: '12345678', cycleKey: '7' });
  });

  it.each(TRANSITIONS)('accepts the transition %s', (transition) => {
    expect(alertOf({ transition }).transition).toBe(transition);
  });
});

describe('parseAlert: tags', () => {
  it('splits on commas, trims, drops empty pieces and duplicates, keeping the first order', () => {
    expect(alertOf({ tags: ' a, b ,a,, c ,b,' }).tags).toEqual(['a', 'b', 'c']);
    expect(alertOf({ tags: '' }).tags).toEqual([]);
    expect(alertOf({ tags: ' , ,' }).tags).toEqual([]);
  });

  it('keeps at most LIMITS.tags tags', () => {
    const many = Array.from({ length: 80 }, (_, i) => `tag:${i}`);
    const tags = alertOf({ tags: many.join(',') }).tags;
    expect(tags).toHaveLength(LIMITS.tags);
    expect(tags).toEqual(many.slice(0, LIMITS.tags));
  });

  it('counts duplicates once towards the limit', () => {
    const repeated = Array.from({ length: 200 }, (_, i) => `t${i % 3}`).join(',');
    expect(alertOf({ tags: repeated }).tags).toEqual(['t0', 't1', 't2']);
  });

  it('drops a tag longer than LIMITS.tag rather than refusing the alert', () => {
    const long = 'x'.repeat(LIMITS.tag + 1);
    expect(alertOf({ tags: `env:prod,${long},team:a` }).tags).toEqual(['env:prod', 'team:a']);
  });
});

describe('parseAlert: priority', () => {
  it.each([
    ['P1', 1],
    ['P2', 2],
    ['p3', 3],
    [' P5 ', 5],
  ])('reads %j as %d', (priority, expected) => {
    expect(alertOf({ priority }).priority).toBe(expected);
  });

  it.each(['', '  ', 'None', 'null'])('reads %j as no priority', (priority) => {
    const alert = alertOf({ priority });
    expect(alert.priority).toBeUndefined();
    expect('priority' in alert).toBe(false);
  });

  it('reads a missing priority as none', () => {
    expect('priority' in alertOf({ priority: undefined })).toBe(false);
    expect(parseAlert(without('priority'), RECEIVED_AT)).toMatchObject({ ok: true });
  });

  it.each(['P0', 'P6', 'high', '2', 'P1,P2'])('refuses %j', (priority) => {
    expect(refusal(datadogBody({ priority })).field).toBe('priority');
  });
});

describe('parseAlert: date', () => {
  it('uses $DATE (epoch ms as a string) as the time of the alert', () => {
    expect(alertOf({ date: '1699999990000' }).at).toBe(1_699_999_990_000);
    expect(alertOf({ date: 1_699_999_990_000 }).at).toBe(1_699_999_990_000);
  });

  it('uses the time opsbot received it when $DATE is missing or empty', () => {
    const missing = parseAlert(without('date'), 1234);
    expect(missing).toMatchObject({ ok: true, alert: { at: 1234, receivedAt: 1234 } });
    expect(alertOf({ date: '' }, 5678)).toMatchObject({ at: 5678, receivedAt: 5678 });
  });

  it.each(['yesterday', '-5', '1.5', '2023-11-14T22:13:20Z'])('refuses the date %j', (date) => {
    expect(refusal(datadogBody({ date })).field).toBe('date');
  });

  it('reads a blank $DATE as missing, not as 1970', () => {
    expect(alertOf({ date: '   ' }, 5678).at).toBe(5678);
  });

  // A far-future date was accepted, then threw at every render (`new Date(9e15).toISOString()`).
  it.each([
    '9000000000000000',
    '8640000000000001',
    String(RECEIVED_AT + DATE_WINDOW.aheadMs + 1),
    '1'.repeat(30),
    '0',
    '1',
    String(DATE_WINDOW.earliest - 1),
  ])('keeps an alert whose $DATE %s is outside the window, dated when it was received', (date) => {
    expect(alertOf({ date })).toMatchObject({ at: RECEIVED_AT, receivedAt: RECEIVED_AT });
  });

  it('believes a $DATE from 2000-01-01 to a day after the alert was received', () => {
    for (const at of [DATE_WINDOW.earliest, RECEIVED_AT - 1, RECEIVED_AT + DATE_WINDOW.aheadMs])
      expect(alertOf({ date: String(at) }).at).toBe(at);
  });

  it('dates every accepted alert inside the window, whatever $DATE says (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String), fc.integer({ min: 0 }).map(String)),
        fc.integer({ min: DATE_WINDOW.earliest, max: 4_000_000_000_000 }),
        (date, receivedAt) => {
          const parsed = parseAlert(datadogBody({ date }), receivedAt);
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          expect(parsed.alert.at).toBeGreaterThanOrEqual(DATE_WINDOW.earliest);
          expect(parsed.alert.at).toBeLessThanOrEqual(receivedAt + DATE_WINDOW.aheadMs);
          expect(() => new Date(parsed.alert.at).toISOString()).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('parseAlert: refusals', () => {
  it.each(REQUIRED)('refuses a body without %s, naming it', (field) => {
    expect(refusal(without(field))).toEqual({ field, problem: 'is required' });
    expect(refusal(datadogBody({ [field]: undefined }))).toEqual({ field, problem: 'is required' });
  });

  const wrongTypes: Array<[string, unknown]> = TEMPLATE_KEYS.flatMap((field) =>
    [true, false, { a: '1' }, ['1'], null].map((value): [string, unknown] => [field, value]),
  );
  it.each(wrongTypes)('refuses %s of the wrong type (%j), naming it', (field, value) => {
    const { field: named, problem } = refusal(datadogBody({ [field]: value }));
    expect(named).toBe(field);
    expect(problem).not.toBe('');
    expect(problem).not.toBe('is required');
  });

  it('does not call a field that is present but of the wrong type "required"', () => {
    const problems = [
      refusal(datadogBody({ title: true })),
      refusal(datadogBody({ message: 5 })),
      refusal(datadogBody({ priority: 2 })),
      refusal(datadogBody({ tags: ['a'] })),
      refusal(datadogBody({ hostname: false })),
    ];
    for (const p of problems) expect(p.problem).not.toBe('is required');
  });

  it.each(['Alert', 'triggered', 'Recovered ', 'OK', ''])('refuses the transition %j', (transition) => {
    expect(refusal(datadogBody({ transition })).field).toBe('transition');
  });

  it.each([
    ['id', 'abc'],
    ['id', '1'.repeat(25)],
    ['id', -1],
    ['monitorId', '12.5'],
    ['monitorId', ''],
    ['cycleKey', 'has space'],
    ['cycleKey', 'x'.repeat(129)],
    ['cycleKey', ''],
    ['title', '   '],
    ['title', ''],
  ])('refuses %s = %j', (field, value) => {
    expect(refusal(datadogBody({ [field]: value })).field).toBe(field);
  });

  it.each([null, [], [datadogBody()], 'a string', '', 42, 0, true, undefined])(
    'refuses %j as a body',
    (body) => {
      expect(refusal(body).field).toBe('(body)');
    },
  );
});

describe('parseAlert: links', () => {
  const GOOD = 'https://p.datadoghq.com/snapshot/view/abc.png?x=1&y=2';
  const BAD = [
    'http://p.datadoghq.com/snapshot.png',
    'javascript:alert(1)',
    'data:image/png;base64,AAAA',
    'https://evil.example|click here',
    'https://evil.example>hi',
    'https://evil.example/<!channel>',
    'https://evil.example/a b',
    'https://evil.example/a\nb',
    'https://evil.example/"onerror',
    'ftp://files.example/x',
    '//evil.example/x',
    'https://',
    `https://example.com/${'a'.repeat(LIMITS.url)}`,
    'not a url',
    // Only the configured Datadog site's hosts, written plainly.
    'https://evil.example/x.png',
    'https://app.datadoghq.com@evil.example/',
    'https://user:pass@app.datadoghq.com/x',
    'https://app.datadoghq.com:8443/x',
    'https://app.datadoghq.com\x00.evil.example/',
    'https://app.datadoghq.com/a\u0000b',
    'https://app.datadoghq.com\\@evil.example/',
    'https://app.datadoghq.com/a\\b',
    'https://app.datadoghq.com.evil.example/',
    'https://evildatadoghq.com/x',
    'https://datadoghq.com.evil.example/x',
    'https://app%2Edatadoghq.com/x',
    'https://app.datadoghq.eu/x',
    'https://app.datadoghq.com/a\tb',
    'https://app.datadoghq.com/\u200b',
  ];

  it.each(BAD)('drops the snapshot and the link %j', (url) => {
    const alert = alertOf({ snapshot: url, link: url });
    expect(alert.snapshot).toBeUndefined();
    expect(alert.link).toBeUndefined();
    expect('snapshot' in alert || 'link' in alert).toBe(false);
  });

  it('keeps a good https URL', () => {
    expect(alertOf({ snapshot: GOOD, link: ` ${GOOD} ` })).toMatchObject({ snapshot: GOOD, link: GOOD });
  });

  it('treats empty as none', () => {
    const alert = alertOf({ snapshot: '', link: '' });
    expect('snapshot' in alert || 'link' in alert).toBe(false);
  });

  it("keeps the configured site's own hosts and subdomains only", () => {
    const eu = (url: string) =>
      parseAlert(datadogBody({ link: url, snapshot: url }), RECEIVED_AT, { site: 'datadoghq.eu' });
    expect(eu('https://app.datadoghq.eu/event/1')).toMatchObject({
      alert: { link: 'https://app.datadoghq.eu/event/1', snapshot: 'https://app.datadoghq.eu/event/1' },
    });
    expect(eu('https://p.datadoghq.eu/snapshot/a.png')).toMatchObject({
      alert: { snapshot: 'https://p.datadoghq.eu/snapshot/a.png' },
    });
    expect(eu('https://app.datadoghq.com/event/1')).toMatchObject({ ok: true });
    expect('link' in (eu('https://app.datadoghq.com/event/1') as { alert: object }).alert).toBe(false);
    expect(datadogUrl('https://p.us3.datadoghq.com/s.png', 'us3.datadoghq.com')).toBe(
      'https://p.us3.datadoghq.com/s.png',
    );
    expect(datadogUrl('https://us3.datadoghq.com/monitors/1', 'us3.datadoghq.com')).toBe(
      'https://us3.datadoghq.com/monitors/1',
    );
    expect(datadogUrl('https://app.datadoghq.com/monitors/1', 'us3.datadoghq.com')).toBeUndefined();
  });

  it('keeps a URL only when its host is the site or under it, with nothing before the host (property)', () => {
    const site = 'datadoghq.com';
    const printable = fc.string({
      unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
    });
    const candidate = fc.oneof(
      fc.webUrl({ validSchemes: ['https'], withQueryParameters: true, withFragments: true }),
      fc
        .tuple(fc.constantFrom('https://', 'https://app.', 'https://p.', 'https://a@'), printable)
        .map(([head, rest]) => `${head}${rest}`),
      fc
        .tuple(
          fc.constantFrom('app', 'p', 'x.y'),
          printable,
          fc.constantFrom('/', '@evil.example/', '.evil.example/'),
        )
        .map(([sub, mid, tail]) => `https://${sub}.${site}${mid}${tail}`),
    );
    fc.assert(
      fc.property(candidate, (url) => {
        const kept = datadogUrl(url, site);
        if (kept === undefined) return;
        expect(kept).toBe(url.trim());
        const parsed = new URL(kept);
        expect(parsed.hostname === site || parsed.hostname.endsWith(`.${site}`)).toBe(true);
        expect(parsed.username + parsed.password + parsed.port).toBe('');
        expect(kept).toMatch(/^https:\/\/[\x21-\x7e]+$/);
        expect(kept).not.toMatch(/[\\<>|"'`]/);
        expect(kept.slice('https://'.length).split(/[/?#]/, 1)[0]?.toLowerCase()).toBe(parsed.hostname);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('parseAlert: text', () => {
  it('keeps a title with a broadcast verbatim (escaping is the renderer’s job)', () => {
    const title = '<!channel> <@U123> @here *bold* & <https://evil|x>';
    expect(alertOf({ title }).title).toBe(title);
  });

  it('trims the title', () => {
    expect(alertOf({ title: '  Disk full \n' }).title).toBe('Disk full');
  });

  it('cuts a long title, message, scope and hostname to LIMITS instead of refusing them', () => {
    const alert = alertOf({
      title: 't'.repeat(10_000),
      message: 'm'.repeat(60_000),
      scope: 's'.repeat(5_000),
      hostname: 'h'.repeat(1_000),
    });
    expect(alert.title).toBe('t'.repeat(LIMITS.title));
    expect(alert.message).toBe('m'.repeat(LIMITS.message));
    expect(alert.scope).toBe('s'.repeat(LIMITS.scope));
    expect(alert.hostname).toHaveLength(255);
  });

  it('cuts a message longer than 64 KiB instead of refusing the alert', () => {
    expect(alertOf({ message: 'm'.repeat(100_000) }).message).toBe('m'.repeat(LIMITS.message));
  });

  it('never cuts a title or a message in the middle of a surrogate pair', () => {
    const alert = alertOf({
      title: `${'a'.repeat(LIMITS.title - 1)}😀`,
      message: `${'a'.repeat(LIMITS.message - 1)}😀`,
    });
    for (const text of [alert.title, alert.message]) {
      const last = text.charCodeAt(text.length - 1);
      expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
    }
  });
});

describe('parseAlert: properties', () => {
  it('never throws for any JSON value, and refuses with a template key or (body)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed = parseAlert(value, RECEIVED_AT);
        if (!parsed.ok) expect(['(body)', ...TEMPLATE_KEYS]).toContain(parsed.field);
      }),
      { numRuns: 1_000 },
    );
  });

  it('never throws for an object of any values under the template keys', () => {
    const anyValue = fc.oneof(fc.string(), fc.jsonValue(), fc.integer(), fc.double());
    const bodies = fc.oneof(
      fc.record(Object.fromEntries(TEMPLATE_KEYS.map((k) => [k, fc.string({ maxLength: 40 })])), {
        requiredKeys: [],
      }),
      fc.record(Object.fromEntries(TEMPLATE_KEYS.map((k) => [k, anyValue])), { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(bodies, (body) => {
        const parsed = parseAlert(body, RECEIVED_AT);
        if (!parsed.ok) {
          expect(TEMPLATE_KEYS as readonly string[]).toContain(parsed.field);
          expect(parsed.problem.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('never throws for an otherwise valid body with one field of any value', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TEMPLATE_KEYS), fc.jsonValue(), (key, value) => {
        const parsed = parseAlert(datadogBody({ [key]: value }), RECEIVED_AT);
        if (!parsed.ok) expect(parsed.field).toBe(key);
      }),
      { numRuns: 1_000 },
    );
  });

  it('keeps what it accepts within LIMITS, with only https links (property)', () => {
    fc.assert(
      fc.property(validBody(), (body) => {
        const parsed = parseAlert(body, RECEIVED_AT);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        const a = parsed.alert;
        expect(a.title.length).toBeGreaterThan(0);
        expect(a.title.length).toBeLessThanOrEqual(LIMITS.title);
        expect(a.message.length).toBeLessThanOrEqual(LIMITS.message);
        expect(a.scope.length).toBeLessThanOrEqual(LIMITS.scope);
        expect(a.tags.length).toBeLessThanOrEqual(LIMITS.tags);
        expect(new Set(a.tags).size).toBe(a.tags.length);
        for (const tag of a.tags) expect(tag).toBe(tag.trim());
        for (const url of [a.snapshot, a.link]) if (url !== undefined) expect(url).toMatch(/^https:\/\/\S+$/);
      }),
      { numRuns: 500 },
    );
  });
});

/** A body Datadog could send: every value a string, the required ones valid. */
function validBody() {
  return fc.record({
    id: fc.stringMatching(/^\d{1,24}$/),
    monitorId: fc.stringMatching(/^\d{1,20}$/),
    cycleKey: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/),
    transition: fc.constantFrom(...TRANSITIONS),
    title: fc.string({ minLength: 1, maxLength: 400 }).filter((t) => t.slice(0, LIMITS.title).trim() !== ''),
    message: fc.string({ maxLength: 300 }),
    priority: fc.constantFrom('', 'P1', 'P2', 'P3', 'P4', 'P5'),
    scope: fc.string({ maxLength: 60 }),
    tags: fc.array(fc.string({ maxLength: 12 }), { maxLength: 70 }).map((t) => t.join(',')),
    snapshot: fc.oneof(
      fc.constant(''),
      fc.webUrl(),
      fc.string({ maxLength: 30 }),
      fc.webPath().map((p) => `https://p.datadoghq.com${p}`),
    ),
    link: fc.oneof(
      fc.constant(''),
      fc.webUrl({ validSchemes: ['https'] }),
      fc.webPath().map((p) => `https://app.datadoghq.com${p}`),
    ),
    date: fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 4_000_000_000_000 }).map(String)),
    orgId: fc.stringMatching(/^\d{0,8}$/),
    hostname: fc.string({ maxLength: 30 }),
  });
}

describe('alertDedupeKey and cycleOf', () => {
  it('gives a retry of the same notification the same key, whenever it arrives', () => {
    const first = alertOf({}, RECEIVED_AT);
    const retry = alertOf({}, RECEIVED_AT + 60_000);
    expect(alertDedupeKey(first)).toMatch(KEY_PATTERN);
    expect(alertDedupeKey(retry)).toBe(alertDedupeKey(first));
  });

  it('depends only on monitor, scope, cycle key, transition and event id', () => {
    const key = alertDedupeKey(alertOf());
    const other = alertOf({
      title: 'another title',
      message: 'another message',
      priority: 'P1',
      tags: 'x,y',
      date: '1',
      link: '',
      snapshot: '',
      hostname: 'h',
    });
    expect(alertDedupeKey(other)).toBe(key);
  });

  it('puts every transition of one cycle in one cycle, and other scopes in others', () => {
    const triggered = alertOf({ transition: 'Triggered', id: '1' });
    const recovered = alertOf({ transition: 'Recovered', id: '2' });
    expect(cycleOf(recovered)).toBe(cycleOf(triggered));
    expect(cycleOf(triggered)).toMatch(/^[0-9a-f]{40}$/);
    expect(cycleOf(alertOf({ scope: 'host:web-2' }))).not.toBe(cycleOf(triggered));
    expect(cycleOf(alertOf({ cycleKey: 'other' }))).not.toBe(cycleOf(triggered));
    expect(cycleOf(alertOf({ monitorId: '1' }))).not.toBe(cycleOf(triggered));
    expect(alertDedupeKey(recovered)).not.toBe(alertDedupeKey(triggered));
  });

  it('does not confuse parts that run together', () => {
    const a = { monitorId: '12', scope: '3', cycleKey: 'c', transition: 'Triggered', id: '1' } as const;
    const b = { monitorId: '1', scope: '23', cycleKey: 'c', transition: 'Triggered', id: '1' } as const;
    expect(alertDedupeKey(a)).not.toBe(alertDedupeKey(b));
    expect(cycleOf(a)).not.toBe(cycleOf(b));
  });

  const DEDUPE_FIELDS = ['monitorId', 'scope', 'cycleKey', 'transition', 'id'] as const;
  it('is stable, well formed, and changes exactly when a part of it changes (property)', () => {
    const others = fc.record({
      id: fc.stringMatching(/^\d{1,24}$/),
      monitorId: fc.stringMatching(/^\d{1,20}$/),
      cycleKey: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/),
      transition: fc.constantFrom(...TRANSITIONS),
      scope: fc.string({ maxLength: 60 }),
    });
    fc.assert(
      fc.property(validBody(), others, fc.integer({ min: 0, max: 1e13 }), (body, other, later) => {
        const first = parseAlert(body, RECEIVED_AT);
        const again = parseAlert(structuredClone(body), later);
        if (!first.ok || !again.ok) throw new Error('a valid body was refused');
        const key = alertDedupeKey(first.alert);
        expect(key).toMatch(KEY_PATTERN);
        expect(alertDedupeKey(again.alert)).toBe(key);
        for (const field of DEDUPE_FIELDS) {
          const changed = parseAlert({ ...body, [field]: other[field] }, RECEIVED_AT);
          if (!changed.ok) throw new Error('a valid body was refused');
          const same = changed.alert[field] === first.alert[field];
          expect(alertDedupeKey(changed.alert) === key).toBe(same);
          if (field !== 'transition' && field !== 'id')
            expect(cycleOf(changed.alert) === cycleOf(first.alert)).toBe(same);
          else expect(cycleOf(changed.alert)).toBe(cycleOf(first.alert));
        }
      }),
      { numRuns: 500 },
    );
  });
});
