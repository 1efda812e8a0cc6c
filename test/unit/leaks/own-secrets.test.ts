import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { candidateSpans, MAX_CANDIDATES } from '../../../src/leaks/candidates.js';
import { type OwnSecretHit, OwnSecretIndex } from '../../../src/leaks/own-secrets.js';
import { scanText } from '../../../src/leaks/scan.js';
import { assertNoCanary, bareCanary, canary } from '../../helpers/canary.js';

/** A Datadog-style webhook secret: no prefix, nothing a pattern recognises. */
const webhookSecret = () => randomBytes(24).toString('base64url');

function indexWith(fields: Record<string, string>, secretName = 'datadog') {
  const own = new OwnSecretIndex();
  own.replace(secretName, fields);
  return own;
}

/** The hits without their digests (random per index): where, which secret and which field. */
const refs = (hits: readonly OwnSecretHit[]) => hits.map(({ digest: _digest, ...where }) => where);

describe('OwnSecretIndex', () => {
  it('finds an own value no rule recognises, embedded anywhere in a message, with its offsets', () => {
    const secret = webhookSecret();
    const own = indexWith({ webhookSecret: secret, apiKey: bareCanary() });
    for (const text of [
      `here you go: ${secret}`,
      `DD_WEBHOOK_SECRET=${secret}.`,
      `curl -H 'X-Opsbot-Secret: ${secret}' https://opsbot.example.com`,
      `\`${secret}\``,
      `<https://opsbot.example.com/hook?secret=${secret}&amp;x=1|the hook>`,
      `"webhookSecret":"${secret}",`,
    ]) {
      expect(
        scanText(text).filter((f) => f.kind !== 'generic-secret'),
        text,
      ).toEqual([]);
      const start = text.indexOf(secret);
      expect(refs(own.find(text, scanText(text))), text).toEqual([
        { secretName: 'datadog', field: 'webhookSecret', start, end: start + secret.length },
      ]);
    }
  });

  it("names the secret and field of a finding's text (a Slack bot token)", () => {
    const botToken = canary('xoxb');
    const own = indexWith({ botToken, signingSecret: bareCanary() }, 'slack');
    const text = `oops ${botToken}`;
    const findings = scanText(text);
    expect(findings.map((f) => f.kind)).toEqual(['slack-bot-token']);
    expect(refs(own.find(text, findings))).toEqual([
      { secretName: 'slack', field: 'botToken', start: 5, end: text.length },
    ]);
  });

  it('finds a private key pasted whole, with its line breaks turned into spaces, or one line of it', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const own = indexWith({ privateKey: pem }, 'github');
    const spaced = `key: ${pem.trim().replace(/\n/g, ' ')}`;
    expect(refs(own.find(spaced, scanText(spaced)))).toEqual([
      expect.objectContaining({ secretName: 'github', field: 'privateKey', start: 5 }),
    ]);
    const line = pem.split('\n')[3] ?? '';
    expect(refs(own.find(`part of it: ${line} ok`))).toEqual([
      { secretName: 'github', field: 'privateKey', start: 12, end: 12 + line.length },
    ]);
  });

  it('does not match a near miss: one character changed, added or missing, or a different case', () => {
    const secret = webhookSecret();
    const own = indexWith({ webhookSecret: secret });
    const flip = (c: string) => (c === 'a' ? 'b' : 'a');
    for (const miss of [
      `${secret.slice(0, -1)}${flip(secret.at(-1) ?? '')}`,
      `${flip(secret[0] ?? '')}${secret.slice(1)}`,
      secret.slice(1),
      `${secret}x`,
      secret.toUpperCase() === secret ? secret.toLowerCase() : secret.toUpperCase(),
    ]) {
      expect(own.match(miss)).toBeUndefined();
      expect(refs(own.find(`value: ${miss} end`))).toEqual([]);
    }
    expect(own.match(secret)).toEqual({ secretName: 'datadog', field: 'webhookSecret' });
  });

  it('forgets a secret on remove, and only the new values count after replace (rotation)', () => {
    const old = webhookSecret();
    const next = webhookSecret();
    const own = indexWith({ webhookSecret: old });
    own.replace('datadog', { webhookSecret: next });
    expect(own.match(old)).toBeUndefined();
    expect(own.match(next)).toEqual({ secretName: 'datadog', field: 'webhookSecret' });
    own.add('datadog', 'webhookSecret', old); // the previous value, still valid during its grace
    expect(own.match(old)).toEqual({ secretName: 'datadog', field: 'webhookSecret' });
    own.remove('datadog');
    expect(own.match(next)).toBeUndefined();
    expect(own.size).toBe(0);
    expect(refs(own.find(`${old} ${next}`))).toEqual([]);
  });

  it('keeps a value two secrets share when one of them is removed', () => {
    const shared = webhookSecret();
    const own = new OwnSecretIndex();
    own.add('datadog', 'webhookSecret', shared);
    own.add('events', 'apiKey', shared);
    own.remove('datadog');
    expect(own.match(shared)).toEqual({ secretName: 'events', field: 'apiKey' });
  });

  it('refuses values too short to tell from ordinary words', () => {
    const own = new OwnSecretIndex();
    expect(own.add('github', 'appId', '123456')).toBe(false);
    expect(own.size).toBe(0);
  });

  it('keeps no value in clear: nothing in JSON.stringify, util.inspect or its own properties', () => {
    const values = { botToken: canary('xoxb'), signingSecret: canary(), appToken: canary('xapp') };
    const own = indexWith(values, 'slack');
    const secrets = Object.values(values).flatMap((v) => [
      v,
      Buffer.from(v).toString('base64'),
      Buffer.from(v).toString('hex'),
    ]);
    assertNoCanary(
      {
        json: JSON.stringify(own),
        inspect: inspect(own, { depth: 10, showHidden: true }),
        keys: Object.getOwnPropertyNames(own).join(','),
      },
      secrets,
    );
    expect(JSON.parse(JSON.stringify(own))).toEqual({ values: 3 });
  });

  it('hashes under a key of its own: two indexes of the same value agree on nothing but the answer', () => {
    const secret = webhookSecret();
    const a = indexWith({ webhookSecret: secret });
    const b = indexWith({ webhookSecret: secret });
    expect(a.match(secret)).toEqual(b.match(secret));
    expect(inspect(a, { showHidden: true })).toBe(inspect(b, { showHidden: true }));
  });

  it('finds an own value anywhere in random text (property)', () => {
    const secret = webhookSecret();
    const own = indexWith({ webhookSecret: secret });
    const words = fc
      .array(
        fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{1,20}$/), fc.constantFrom(' ', '\n', ', ', '"', '=', ':')),
        {
          maxLength: 30,
        },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(words, words, fc.constantFrom(' ', '\n', '"', '`', '(', '<', '|'), (before, after, sep) => {
        const text = `${before}${sep}${secret}${sep === '(' ? ')' : sep}${after}`;
        const start = text.indexOf(secret, before.length);
        expect(refs(own.find(text, scanText(text)))).toContainEqual(
          expect.objectContaining({ field: 'webhookSecret', start, end: start + secret.length }),
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('candidateSpans', () => {
  it('yields the value inside assignments, URLs and user:password@host', () => {
    const value = 'Q'.repeat(8) + 'z'.repeat(12);
    for (const text of [
      `k=${value}`,
      `https://host/p?token=${value}&amp;a=1`,
      `https://u:${value}@host`,
      `${value}.`,
    ]) {
      const pieces = candidateSpans(text).map(([s, e]) => text.slice(s, e));
      expect(pieces, text).toContain(value);
    }
  });

  it(`never yields more than ${MAX_CANDIDATES} pieces, each 16–512 characters inside the text (property)`, () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 3_000 }),
        fc.integer({ min: 1, max: 50 }),
        (text, limit) => {
          const spans = candidateSpans(text, limit);
          expect(spans.length).toBeLessThanOrEqual(limit);
          for (const [s, e] of spans) {
            expect(s).toBeGreaterThanOrEqual(0);
            expect(e).toBeLessThanOrEqual(text.length);
            expect(e - s).toBeGreaterThanOrEqual(16);
            expect(e - s).toBeLessThanOrEqual(512);
          }
        },
      ),
      { numRuns: 300 },
    );
    const words = `${'a1b2c3d4e5f6g7h8=:'.repeat(2)} `.repeat(3_000);
    expect(candidateSpans(words).length).toBe(MAX_CANDIDATES);
  });
});

describe('OwnSecretIndex.holds', () => {
  it("tells whether a value found earlier is still one of the secret's, by its hit's digest", () => {
    const own = new OwnSecretIndex();
    const value = canary('dd-webhook');
    own.add('datadog', 'webhookSecret', value);
    const [hit] = own.find(`header: ${value}`);
    expect(hit?.digest).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(hit?.digest).not.toContain(value);
    expect(own.holds('datadog', hit?.digest ?? '')).toBe(true);
    expect(own.holds('slack', hit?.digest ?? '')).toBe(false);
    own.replace('datadog', { webhookSecret: canary('dd-webhook-next') });
    expect(own.holds('datadog', hit?.digest ?? '')).toBe(false);
  });
});
