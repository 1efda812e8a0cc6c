import type { KnownBlock } from '@slack/web-api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AlertEvent, cycleOf, TRANSITIONS, type Transition } from '../../../src/alerts/payload.js';
import {
  ALERT_EVENT_TYPE,
  alertMetadata,
  digestMessage,
  displayTitle,
  link,
  plainDigestMessage,
  plainReplyMessage,
  plainRootMessage,
  replyMessage,
  rootMessage,
  timeOf,
  UNKNOWN_TIME,
} from '../../../src/alerts/render.js';
import {
  applyTransition,
  DIGEST_MAX_ENTRIES,
  type DigestData,
  newRoot,
  type RootData,
  rootKey,
} from '../../../src/alerts/roots.js';
import { MAX_BLOCKS, MAX_SECTION_TEXT } from '../../../src/slack/blocks.js';
import { alertOf, RECEIVED_AT } from './fixtures.js';

const APP = 'https://app.datadoghq.com';
const NOW = RECEIVED_AT + 5 * 60_000;
const ACK_USER = 'U0ACKER';
const MUTE_USER = 'W0MUTER';

/** Text a monitor's author (or anyone who can edit a monitor) controls. */
const EVIL = '<!channel> <@U123> @here *bold* & <https://evil|x> @Everyone <!subteam^S1> <#C1>';

const evilAlert = (overrides: Record<string, unknown> = {}): AlertEvent =>
  alertOf({
    title: EVIL,
    message: `${EVIL}\n${EVIL}`,
    scope: 'host:<!here>, team:@channel & <@U999>',
    tags: '<!channel>, @here ,<@U123>,a&b,<https://evil|x>,*bold*',
    ...overrides,
  });

type Message = { text?: string; blocks?: KnownBlock[] };

/** Every string in the message, with where it is. */
function strings(value: unknown, path = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

/**
 * The problems of one string of a message: a broadcast or mention opsbot did not write itself, a
 * link to a URL opsbot did not choose, a bare `&`, or `@here` without its zero-width space.
 */
function problemsOf(path: string, text: string, urls: readonly string[], users: readonly string[]): string[] {
  const problems: string[] = [];
  const last = path.split('.').at(-1) ?? '';
  if (last === 'url' || last === 'image_url') {
    if (!urls.includes(text)) problems.push(`${path}: a URL opsbot did not choose: ${text}`);
    return problems;
  }
  if (text.includes('<!')) problems.push(`${path}: a broadcast: ${text}`);
  let rest = text;
  for (const [whole, inner = ''] of text.matchAll(/<([^<>]*)>/g)) {
    if (inner.startsWith('@')) {
      if (!users.includes(inner.slice(1))) problems.push(`${path}: a mention of ${inner}`);
    } else {
      const url = inner.split('|')[0] ?? '';
      if (!inner.includes('|') || !urls.includes(url))
        problems.push(`${path}: a link opsbot did not make: ${whole}`);
      rest = rest.replace(url, '');
    }
  }
  if (/<(?![@h])/.test(text)) problems.push(`${path}: a stray <: ${text}`);
  if (/&(?!amp;|lt;|gt;)/.test(rest)) problems.push(`${path}: a bare &: ${text}`);
  if (/@(here|channel|everyone)\b/i.test(text)) problems.push(`${path}: a live broadcast word: ${text}`);
  return problems;
}

function audit(
  message: Message,
  urls: readonly string[],
  users: readonly string[] = [],
  skip: string[] = [],
) {
  return strings(message)
    .filter(([path]) => !skip.some((s) => path.endsWith(s)))
    .flatMap(([path, text]) => problemsOf(path, text, urls, users));
}

/** The text of the message's first block, a section. */
function firstSection(message: Message): string {
  const block = message.blocks?.[0] as { type: string; text?: { text?: string } } | undefined;
  expect(block?.type).toBe('section');
  return block?.text?.text ?? '';
}

function blocksOfType(message: Message, type: string): KnownBlock[] {
  return (message.blocks ?? []).filter((b) => b.type === type);
}

function actionElements(message: Message): Array<Record<string, unknown>> {
  const block = blocksOfType(message, 'actions')[0] as
    | { elements: Array<Record<string, unknown>> }
    | undefined;
  return block?.elements ?? [];
}

function contextTexts(message: Message): string[] {
  return blocksOfType(message, 'context').flatMap((b) =>
    (b as { elements: Array<{ text?: string }> }).elements.map((e) => e.text ?? ''),
  );
}

/** Slack's limits on what these messages use. */
function expectWithinSlackLimits(message: Message): void {
  const blocks = message.blocks ?? [];
  expect(blocks.length).toBeGreaterThan(0);
  expect(blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
  expect((message.text ?? '').length).toBeLessThanOrEqual(40_000);
  for (const block of blocks) {
    const b = block as unknown as Record<string, unknown> & {
      text?: { text: string };
      elements?: Array<Record<string, unknown>>;
    };
    if (b.type === 'section') expect(b.text?.text.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
    if (b.type === 'context') {
      expect(b.elements?.length).toBeLessThanOrEqual(10);
      for (const e of b.elements ?? []) expect(String(e.text).length).toBeLessThanOrEqual(3_000);
    }
    if (b.type === 'image') {
      expect(String(b.image_url).length).toBeLessThanOrEqual(3_000);
      expect(String(b.alt_text).length).toBeLessThanOrEqual(2_000);
    }
    if (b.type === 'actions') {
      expect(b.elements?.length).toBeLessThanOrEqual(25);
      for (const e of b.elements ?? []) {
        const text = (e.text as { text?: string } | undefined)?.text ?? '';
        expect(text.length).toBeLessThanOrEqual(75);
        if (typeof e.value === 'string') expect(e.value.length).toBeLessThanOrEqual(2_000);
        if (typeof e.url === 'string') expect(e.url.length).toBeLessThanOrEqual(3_000);
        for (const o of (e.options as Array<{ value: string; text: { text: string } }> | undefined) ?? []) {
          expect(o.value.length).toBeLessThanOrEqual(150);
          expect(o.text.text.length).toBeLessThanOrEqual(75);
        }
      }
    }
  }
}

function rootOf(alert: AlertEvent): { key: string; data: RootData } {
  return { key: rootKey(cycleOf(alert)), data: newRoot(alert, APP) };
}

/** What the dispatcher puts in a digest for one alert (deliver.ts `entryOf`). */
function entryOf(a: AlertEvent): DigestData['entries'][number] {
  return {
    id: a.id,
    m: a.monitorId,
    t: a.title.slice(0, 100),
    tr: a.transition,
    ...(a.link && a.link.length <= 300 ? { l: a.link } : {}),
  };
}

describe('rootMessage', () => {
  it('shows state, priority, the title linked to the event, scope, tags and when it began', () => {
    const alert = alertOf();
    const { key, data } = rootOf(alert);
    const message = rootMessage(key, data, { now: NOW });
    const section = firstSection(message);
    expect(section).toContain('*Triggered*');
    expect(section).toContain('P2');
    expect(section).toContain(`<${alert.link}|High CPU on web-1>`);
    const contexts = contextTexts(message).join('\n');
    expect(contexts).toContain(`<${APP}/monitors/12345678|12345678>`);
    expect(contexts).toContain('`host:web-1,env:prod`');
    expect(contexts).toContain('`team:payments`');
    expect(contexts).toContain('22:13 UTC');
    expect(message.text).toBe(':red_circle: Triggered: High CPU on web-1');
    expect(audit(message, [alert.link as string, alert.snapshot as string, data.monitorUrl])).toEqual([]);
  });

  it('links the title to the monitor when the alert has no link, and says when it has no priority', () => {
    const alert = alertOf({ link: '', priority: '' });
    const { key, data } = rootOf(alert);
    const section = firstSection(rootMessage(key, data, { now: NOW }));
    expect(section).toContain(`<${APP}/monitors/12345678|`);
    expect(section).toContain('no priority');
  });

  it('escapes every piece of user text in every string of the message', () => {
    const alert = evilAlert({ snapshot: '' });
    const { key, data } = rootOf(alert);
    for (const variant of [
      data,
      { ...data, ack: { by: ACK_USER, at: NOW } },
      { ...data, mute: { by: MUTE_USER, until: 'recovered' as const, downtimeId: '1', at: NOW } },
      applyTransition(
        data,
        evilAlert({ id: '99', transition: 'Recovered', date: String(NOW), snapshot: '' }),
      ),
    ]) {
      const message = rootMessage(key, variant, { now: NOW });
      expect(audit(message, [alert.link as string, data.monitorUrl], [ACK_USER, MUTE_USER])).toEqual([]);
      expect(JSON.stringify(message)).toContain('&lt;!channel&gt;');
      expect(JSON.stringify(message)).toContain('@\u200bhere');
    }
  });

  it('escapes user text everywhere but the image’s alt text, which keeps no mention or link', () => {
    const alert = evilAlert();
    const { key, data } = rootOf(alert);
    const message = rootMessage(key, data, { now: NOW });
    const images = blocksOfType(message, 'image') as Array<{ alt_text: string }>;
    expect(images).toHaveLength(1);
    expect(images[0]?.alt_text).toMatch(/^Datadog graph: /);
    expect(images[0]?.alt_text).not.toMatch(/[<>]/);
    expect(
      audit(message, [alert.link as string, alert.snapshot as string, data.monitorUrl], [], ['alt_text']),
    ).toEqual([]);
  });

  it('keeps user text out of the image’s alt text', () => {
    const alert = evilAlert();
    const { key, data } = rootOf(alert);
    const message = rootMessage(key, data, { now: NOW });
    expect(audit(message, [alert.link as string, alert.snapshot as string, data.monitorUrl])).toEqual([]);
  });

  it('lets no generated user text through (property)', () => {
    const nasty = fc.string({
      unit: fc.constantFrom(
        '<',
        '>',
        '!',
        '@',
        '&',
        '|',
        'here',
        'channel',
        'U1',
        ' ',
        ',',
        'https://x',
        '*',
        'a',
      ),
      maxLength: 60,
    });
    fc.assert(
      fc.property(nasty, nasty, nasty, fc.constantFrom(...TRANSITIONS), (title, scope, tags, transition) => {
        const alert = alertOf({ title: `t${title}`, scope, tags, transition, snapshot: '' });
        const { key, data } = rootOf(alert);
        const root = rootMessage(key, { ...data, ack: { by: ACK_USER, at: NOW } }, { now: NOW });
        const urls = [alert.link as string, data.monitorUrl];
        expect(audit(root, urls, [ACK_USER])).toEqual([]);
        expect(audit(replyMessage(evilAlert({ title: `t${title}`, message: scope }), NOW), urls)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('shows the graph only for an https snapshot', () => {
    const withGraph = rootOf(alertOf());
    const image = blocksOfType(rootMessage(withGraph.key, withGraph.data, { now: NOW }), 'image');
    expect(image).toHaveLength(1);
    expect(image[0]).toMatchObject({ image_url: alertOf().snapshot });
    for (const snapshot of [
      '',
      'http://p.datadoghq.com/s.png',
      'javascript:alert(1)',
      'data:image/png;base64,AA',
    ]) {
      const { key, data } = rootOf(alertOf({ snapshot }));
      expect(blocksOfType(rootMessage(key, data, { now: NOW }), 'image')).toEqual([]);
    }
  });

  it('has Acknowledge, a mute menu and a link to the monitor while the alert is open', () => {
    const { key, data } = rootOf(alertOf());
    const elements = actionElements(rootMessage(key, data, { now: NOW }));
    expect(elements.map((e) => e.action_id)).toEqual(['dd:ack', 'dd:mute', 'link:dd-monitor']);
    expect(elements[0]).toMatchObject({ type: 'button', value: key, style: 'primary' });
    expect(elements[1]).toMatchObject({ type: 'static_select' });
    const options = ((elements[1]?.options ?? []) as Array<{ value: string }>).map((o) => o.value);
    expect(options).toEqual([`${key}|1h`, `${key}|4h`, `${key}|recovered`]);
    expect(elements[2]).toMatchObject({ type: 'button', url: `${APP}/monitors/12345678` });
    expect(elements[2]).not.toHaveProperty('value');
  });

  it('drops Acknowledge once someone has, and names them', () => {
    const { key, data } = rootOf(alertOf());
    const message = rootMessage(key, { ...data, ack: { by: ACK_USER, at: NOW - 60_000 } }, { now: NOW });
    const ids = actionElements(message).map((e) => e.action_id);
    expect(ids).not.toContain('dd:ack');
    expect(ids).toEqual(['dd:mute', 'link:dd-monitor']);
    expect(contextTexts(message).some((t) => t.includes(`<@${ACK_USER}>`) && /Acknowledged/.test(t))).toBe(
      true,
    );
  });

  it('offers Unmute instead of the mute menu while muted, and says until when', () => {
    const { key, data } = rootOf(alertOf());
    for (const until of [NOW + 3_600_000, 'recovered' as const]) {
      const message = rootMessage(
        key,
        { ...data, mute: { by: MUTE_USER, until, downtimeId: '77', at: NOW } },
        {
          now: NOW,
        },
      );
      const elements = actionElements(message);
      expect(elements.map((e) => e.action_id)).toEqual(['dd:ack', 'dd:unmute', 'link:dd-monitor']);
      expect(elements[1]).toMatchObject({ type: 'button', value: key });
      const people = contextTexts(message).find((t) => t.includes(`<@${MUTE_USER}>`));
      expect(people).toMatch(until === 'recovered' ? /until it recovers/ : /until 23:18 UTC/);
    }
  });

  it('has neither Acknowledge nor a mute menu once recovered', () => {
    const alert = alertOf();
    const { key, data } = rootOf(alert);
    const recovered = applyTransition(data, alertOf({ id: '2', transition: 'Recovered', date: String(NOW) }));
    expect(recovered.state).toBe('Recovered');
    const elements = actionElements(rootMessage(key, recovered, { now: NOW }));
    expect(elements.map((e) => e.action_id)).toEqual(['link:dd-monitor']);
    const muted = {
      ...recovered,
      mute: { by: MUTE_USER, until: 'recovered' as const, downtimeId: '1', at: NOW },
    };
    expect(actionElements(rootMessage(key, muted, { now: NOW })).map((e) => e.action_id)).toEqual([
      'dd:unmute',
      'link:dd-monitor',
    ]);
  });

  it('shows the last transitions, oldest first', () => {
    let { key, data } = rootOf(alertOf({ id: '1', date: String(RECEIVED_AT) }));
    data = applyTransition(
      data,
      alertOf({ id: '2', transition: 'Recovered', date: String(RECEIVED_AT + 60_000) }),
    );
    data = applyTransition(
      data,
      alertOf({ id: '3', transition: 'Re-Triggered', date: String(RECEIVED_AT + 120_000) }),
    );
    const history = contextTexts(rootMessage(key, data, { now: NOW })).find((t) => t.includes('→'));
    expect(history).toBe(
      ':red_circle: Triggered 22:13 UTC → :large_green_circle: Recovered 22:14 UTC → :red_circle: Re-Triggered 22:15 UTC',
    );
  });

  it('stays within Slack’s limits with the longest texts a notification can bring', () => {
    const longUrl = `https://app.datadoghq.com/${'a'.repeat(900)}`;
    const alert = alertOf({
      title: '&'.repeat(1_000),
      scope: '<'.repeat(1_000),
      tags: Array.from({ length: 50 }, (_, i) => `${i}${'&'.repeat(199)}`).join(','),
      link: longUrl,
      snapshot: longUrl,
    });
    const { key, data } = rootOf(alert);
    const full = {
      ...data,
      ack: { by: ACK_USER, at: NOW },
      mute: { by: MUTE_USER, until: NOW + 1, downtimeId: '1', at: NOW },
    };
    for (let i = 0; i < 15; i++)
      full.transitions = applyTransition(
        full,
        alertOf({ id: String(100 + i), transition: 'Re-Warn' }),
      ).transitions;
    for (const root of [data, full]) expectWithinSlackLimits(rootMessage(key, root, { now: NOW }));
  });
});

describe('replyMessage', () => {
  it('shows the transition, when, a link to the event and an excerpt of the message', () => {
    const alert = alertOf({ transition: 'Recovered', date: String(RECEIVED_AT) });
    const message = replyMessage(alert, NOW);
    const text = firstSection(message);
    expect(text).toBe(
      `:large_green_circle: *Recovered* at 22:13 UTC · <${alert.link}|event>\n@slack-ops CPU has been above 90% for 5 minutes. See the runbook.`,
    );
    expect(message.text).toBe(':large_green_circle: Recovered: High CPU on web-1');
    expect(message.blocks).toHaveLength(1);
  });

  it('has no excerpt for an empty message and no link without one', () => {
    const message = replyMessage(alertOf({ message: '', link: '' }), NOW);
    expect(firstSection(message)).toBe(':red_circle: *Triggered* at 22:13 UTC');
  });

  it('escapes the title and the message, and stays within limits', () => {
    const alert = evilAlert({ message: `${EVIL} `.repeat(500) });
    const message = replyMessage(alert, NOW);
    expect(audit(message, [alert.link as string])).toEqual([]);
    expectWithinSlackLimits(message);
    expectWithinSlackLimits(
      replyMessage(alertOf({ message: '&'.repeat(2_000), title: '<'.repeat(300) }), NOW),
    );
  });
});

describe('digestMessage', () => {
  const digest = (alerts: AlertEvent[], openedAt = NOW - 90_000): DigestData => ({
    seq: 1,
    openedAt,
    entries: alerts.map(entryOf),
    shown: 0,
  });

  it('counts the alerts and lists each with its state, title and link', () => {
    const a = alertOf({ id: '1' });
    const b = alertOf({ id: '2', monitorId: '9', transition: 'Warn', link: '', title: 'Disk 85%' });
    const message = digestMessage(digest([a, b]), NOW);
    expect(message.text).toBe('2 alerts in the last 2 min');
    const texts = strings(message.blocks).map(([, t]) => t);
    expect(
      texts.some((t) => t.includes(`:red_circle: <${a.link}|${a.title}> · monitor 12345678 · Triggered`)),
    ).toBe(true);
    expect(texts.some((t) => t.includes(':large_orange_circle: Disk 85% · monitor 9 · Warn'))).toBe(true);
    expect(digestMessage(digest([a], NOW), NOW).text).toBe('1 alert in the last 1 min');
  });

  it('escapes every title', () => {
    const alerts = Array.from({ length: 5 }, (_, i) => evilAlert({ id: String(i), title: `${i} ${EVIL}` }));
    const message = digestMessage(digest(alerts), NOW);
    expect(audit(message, [alerts[0]?.link as string])).toEqual([]);
  });

  it(`stays within Slack’s limits with ${DIGEST_MAX_ENTRIES} entries of 100-character titles`, () => {
    for (const titleChar of ['t', '&', '<']) {
      const alerts = Array.from({ length: DIGEST_MAX_ENTRIES }, (_, i) =>
        alertOf({
          id: String(i + 1),
          monitorId: String(10_000_000 + i),
          title: titleChar.repeat(100),
          link: `https://app.datadoghq.com/event/${'e'.repeat(260)}?id=${i}`,
        }),
      );
      const message = digestMessage(digest(alerts), NOW);
      expectWithinSlackLimits(message);
      // Nothing is left out: every entry's monitor is listed.
      const all = strings(message.blocks)
        .map(([, t]) => t)
        .join('\n');
      for (const a of alerts) expect(all).toContain(`monitor ${a.monitorId} `);
    }
  });
});

describe('link', () => {
  it('links an https URL with an escaped label', () => {
    expect(link('https://app.datadoghq.com/x', 'CPU <high> & @here')).toBe(
      '<https://app.datadoghq.com/x|CPU &lt;high&gt; &amp; @\u200bhere>',
    );
  });

  it('keeps a | in the label from ending it', () => {
    expect(link('https://a.example', 'a|b')).toBe('<https://a.example|a¦b>');
    expect(link('https://a.example', '<https://evil|x>')).toBe('<https://a.example|&lt;https://evil¦x&gt;>');
  });

  it.each([
    undefined,
    '',
    'http://a.example',
    'javascript:alert(1)',
    'https://a.example|evil',
    'https://a.example>x',
    'https://a b',
  ])('gives plain escaped text for the URL %j', (url) => {
    expect(link(url, '<!channel> x')).toBe('&lt;!channel&gt; x');
  });

  it('collapses white space and cuts the label', () => {
    expect(link(undefined, '  a\n\n b\t c  ')).toBe('a b c');
    expect(link(undefined, 'x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});

describe('displayTitle', () => {
  it.each([
    ['[P1] [Triggered on {host:web-1}] High CPU', 'High CPU'],
    ['[Triggered on {host:web-1,env:prod}] High CPU on web-1', 'High CPU on web-1'],
    ['[Re-No Data on {a,b}] Heartbeat', 'Heartbeat'],
    ['[Recovered] Disk OK', 'Disk OK'],
    ['[P2] Disk', 'Disk'],
    ['  [Warn] Latency  ', 'Latency'],
    ['Plain title [with brackets]', 'Plain title [with brackets]'],
    ['<!channel> [Triggered] x', '<!channel> [Triggered] x'],
  ])('reads the monitor name of %j as %j', (title, name) => {
    expect(displayTitle(title)).toBe(name);
  });

  it('keeps the whole title when it is nothing but the prefix', () => {
    expect(displayTitle('[Triggered on {host:x}]')).toBe('[Triggered on {host:x}]');
    expect(displayTitle(' [P1] ')).toBe('[P1]');
  });

  it('never answers empty for a title with text, nor longer than the title (property)', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('[', ']', 'P1', ' ', 'Triggered', ' on ', '{', '}', 'x'),
          maxLength: 30,
        }),
        (title) => {
          fc.pre(title.trim() !== '');
          const name = displayTitle(title);
          expect(name.length).toBeGreaterThan(0);
          expect(name.length).toBeLessThanOrEqual(title.trim().length);
          expect(title).toContain(name);
        },
      ),
    );
  });
});

describe('alertMetadata', () => {
  it('carries the key and the ids of the alerts the message delivers', () => {
    expect(alertMetadata('alert:abc', ['1', '2'])).toEqual({
      event_type: ALERT_EVENT_TYPE,
      event_payload: { key: 'alert:abc', alert_ids: '1,2' },
    });
    expect(alertMetadata('alert-digest:C0A', [])).toEqual({
      event_type: 'opsbot_alert',
      event_payload: { key: 'alert-digest:C0A', alert_ids: '' },
    });
  });
});

describe('newRoot and applyTransition', () => {
  it('opens a root from the first notification of a cycle', () => {
    const alert = alertOf();
    expect(newRoot(alert, APP)).toEqual({
      monitorId: '12345678',
      scope: 'host:web-1,env:prod',
      cycleKey: alert.cycleKey,
      title: alert.title,
      monitorUrl: `${APP}/monitors/12345678`,
      priority: 2,
      tags: ['env:prod', 'team:payments', 'service:checkout'],
      link: alert.link,
      snapshot: alert.snapshot,
      state: 'Triggered',
      openedAt: alert.at,
      transitions: [{ t: 'Triggered', at: alert.at, id: alert.id }],
    } satisfies RootData);
    const bare = newRoot(alertOf({ priority: '', link: '', snapshot: '' }), APP);
    expect('priority' in bare || 'link' in bare || 'snapshot' in bare).toBe(false);
    expect(
      newRoot(alertOf({ tags: Array.from({ length: 40 }, (_, i) => `t${i}`).join(',') }), APP).tags,
    ).toHaveLength(20);
  });

  it('ignores a notification it has already applied', () => {
    const first = alertOf({ id: '1' });
    const root = newRoot(first, APP);
    expect(applyTransition(root, first)).toBe(root);
    const recovered = alertOf({ id: '2', transition: 'Recovered', title: 'ok', date: String(NOW) });
    const once = applyTransition(root, recovered);
    expect(applyTransition(once, recovered)).toBe(once);
    expect(applyTransition(once, { ...recovered, title: 'a retry with another title' })).toBe(once);
  });

  it('takes the state, title, snapshot and link of a later notification', () => {
    const root = newRoot(alertOf({ id: '1' }), APP);
    const later = alertOf({
      id: '2',
      transition: 'Warn',
      title: 'warn',
      snapshot: 'https://p.datadoghq.com/2.png',
      link: 'https://app.datadoghq.com/event/2',
      date: String(NOW),
    });
    expect(applyTransition(root, later)).toMatchObject({
      state: 'Warn',
      title: 'warn',
      snapshot: 'https://p.datadoghq.com/2.png',
      link: 'https://app.datadoghq.com/event/2',
      openedAt: root.openedAt,
    });
    // A later notification without a graph or link keeps the ones the root had.
    const plain = applyTransition(root, alertOf({ id: '3', link: '', snapshot: '', date: String(NOW) }));
    expect(plain).toMatchObject({ snapshot: root.snapshot, link: root.link });
  });

  it.each<[Transition, Transition]>([
    ['Triggered', 'Triggered'],
    ['Warn', 'Warn'],
    ['No Data', 'No Data'],
    ['Re-Triggered', 'Re-Triggered'],
  ])('keeps the state %s through a Renotify', (before, after) => {
    let root = newRoot(alertOf({ id: '1', transition: before, date: String(RECEIVED_AT) }), APP);
    root = applyTransition(root, alertOf({ id: '2', transition: 'Renotify', date: String(RECEIVED_AT + 1) }));
    expect(root.state).toBe(after);
    root = applyTransition(root, alertOf({ id: '3', transition: 'Renotify', date: String(RECEIVED_AT + 2) }));
    expect(root.state).toBe(after);
    expect(root.transitions.map((t) => t.t)).toEqual([before, 'Renotify', 'Renotify']);
  });

  it('keeps the state of the newest notification when an older one arrives late', () => {
    let root = newRoot(alertOf({ id: '1', date: String(RECEIVED_AT) }), APP);
    root = applyTransition(
      root,
      alertOf({ id: '3', transition: 'Recovered', date: String(RECEIVED_AT + 2_000) }),
    );
    root = applyTransition(
      root,
      alertOf({ id: '2', transition: 'Re-Triggered', date: String(RECEIVED_AT + 1_000) }),
    );
    expect(root.state).toBe('Recovered');
    expect(root.transitions.map((t) => t.id)).toEqual(['1', '2', '3']);
  });

  it('keeps the title of the newest notification when an older one arrives late', () => {
    let root = newRoot(alertOf({ id: '1', title: '[Triggered] CPU', date: String(RECEIVED_AT) }), APP);
    root = applyTransition(
      root,
      alertOf({
        id: '3',
        transition: 'Recovered',
        title: '[Recovered] CPU',
        date: String(RECEIVED_AT + 2_000),
      }),
    );
    root = applyTransition(
      root,
      alertOf({
        id: '2',
        transition: 'Re-Triggered',
        title: '[Re-Triggered] CPU',
        date: String(RECEIVED_AT + 1_000),
      }),
    );
    expect(root.state).toBe('Recovered');
    expect(root.title).toBe('[Recovered] CPU');
  });

  const arbStep = fc.record({
    id: fc.integer({ min: 1, max: 40 }).map(String),
    transition: fc.constantFrom(...TRANSITIONS),
    date: fc.integer({ min: 0, max: 100 }).map((d) => String(RECEIVED_AT + d * 1_000)),
    title: fc.constantFrom('a', 'b', 'c'),
  });

  it('is idempotent, keeps at most 10 transitions in time order, once per id (property)', () => {
    fc.assert(
      fc.property(arbStep, fc.array(arbStep, { maxLength: 30 }), (first, steps) => {
        let root = newRoot(alertOf(first), APP);
        for (const step of steps) {
          const alert = alertOf(step);
          const next = applyTransition(root, alert);
          expect(applyTransition(next, alert)).toEqual(next);
          root = next;
          const ats = root.transitions.map((t) => t.at);
          expect(ats).toEqual([...ats].sort((x, y) => x - y));
          expect(root.transitions.length).toBeLessThanOrEqual(10);
          expect(new Set(root.transitions.map((t) => t.id)).size).toBe(root.transitions.length);
          expect(root.openedAt).toBe(alertOf(first).at);
          const latest = root.transitions.at(-1)?.t;
          if (latest !== 'Renotify') expect(root.state).toBe(latest);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('renders every root it produces within Slack’s limits (property)', () => {
    fc.assert(
      fc.property(arbStep, fc.array(arbStep, { maxLength: 15 }), (first, steps) => {
        let root = newRoot(alertOf(first), APP);
        for (const step of steps) root = applyTransition(root, alertOf(step));
        const message = rootMessage(rootKey('0'.repeat(40)), root, { now: NOW });
        expectWithinSlackLimits(message);
        const ids = actionElements(message).map((e) => e.action_id);
        expect(ids.includes('dd:ack')).toBe(root.state !== 'Recovered');
        expect(ids.at(-1)).toBe('link:dd-monitor');
      }),
      { numRuns: 300 },
    );
  });
});

describe('other commands\' buttons on alert roots (the "Create Jira issue" alert action)', () => {
  it('are offered only when asked, and name the root by its key (no alert text in the value)', () => {
    const base = newRoot(alertOf({ title: '<!channel> boom' }), APP);
    const message = (jira: boolean) =>
      rootMessage(rootKey('c1'), base, {
        now: NOW,
        offered: jira ? [{ label: 'Create Jira issue', action: 'jira:create' }] : [],
      });
    expect(JSON.stringify(message(false).blocks)).not.toContain('jira:create');
    const button = (message(true).blocks ?? [])
      .flatMap((b) => (b as { elements?: Array<{ action_id?: string; value?: string }> }).elements ?? [])
      .find((e) => e.action_id === 'jira:create');
    expect(button?.value).toBe(rootKey('c1'));
  });
});

// A root stored with `at` 9000000000000000 threw at every render (Date#toISOString's RangeError).
describe('an alert no date can show', () => {
  const FAR = 9_000_000_000_000_000;

  it('timeOf says the time is unknown instead of throwing, for any number', () => {
    expect(timeOf(FAR, NOW)).toBe(UNKNOWN_TIME);
    expect(timeOf(Number.NaN, NOW)).toBe(UNKNOWN_TIME);
    expect(timeOf(NOW, FAR)).toMatch(/^\w{3} \d{1,2} \d\d:\d\d UTC$/);
    fc.assert(
      fc.property(fc.double(), fc.double(), (ms, now) => {
        expect(typeof timeOf(ms, now)).toBe('string');
      }),
    );
  });

  it('renders a root, a reply and a digest whose times are out of range', () => {
    const alert = { ...alertOf(), at: FAR };
    const data = { ...newRoot(alert, APP), openedAt: FAR };
    const key = rootKey(cycleOf(alert));
    expect(JSON.stringify(rootMessage(key, data, { now: NOW }))).toContain(UNKNOWN_TIME);
    expect(replyMessage(alert, NOW).text).toContain('Triggered');
    expect(() =>
      digestMessage({ seq: 1, openedAt: FAR, entries: [entryOf(alert)], shown: 0 }, NOW),
    ).not.toThrow();
  });

  it('has a plain form even for values String() cannot convert (found by the property below)', () => {
    const hostile = { toString: false } as unknown as string;
    const root = plainRootMessage('alert:x', {
      monitorId: '',
      title: hostile,
      state: hostile,
    } as unknown as RootData);
    expect(root.text).toBe(':warning: ?: ? (Datadog monitor )');
    expect(plainReplyMessage({ ...alertOf(), title: hostile }).text).toContain(': ?');
  });

  it('has a plain form for anything stored, escaped, that never throws (property)', () => {
    const junk = fc.oneof(fc.jsonValue(), fc.string(), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.record({
          monitorId: junk,
          title: junk,
          state: junk,
          monitorUrl: junk,
          transitions: junk,
          entries: junk,
        }),
        (stored) => {
          const data = stored as unknown as RootData;
          for (const message of [
            plainRootMessage('alert:x', data),
            plainReplyMessage({ ...alertOf(), title: stored.title as string }),
            plainDigestMessage(stored as unknown as DigestData),
          ]) {
            expect(typeof message.text).toBe('string');
            expect(message.text).not.toMatch(/<[!@#]/);
          }
        },
      ),
      { numRuns: 500 },
    );
    const evil = plainRootMessage('alert:x', newRoot(evilAlert(), APP));
    expect(evil.text).toContain('&lt;!channel&gt;');
    expect(JSON.stringify(evil.blocks)).not.toContain('<!channel>');
  });
});
