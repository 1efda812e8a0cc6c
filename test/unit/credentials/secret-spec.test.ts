import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSecret, type SecretSpec, sensitiveValues } from '../../../src/credentials/secret-spec.js';
import { bareCanary, canary } from '../../helpers/canary.js';
import { CATALOG, SECRET_NAMES } from '../../helpers/catalog.js';

const spec = (name: string) => CATALOG.get(name) as SecretSpec;

const pem = (body: string) => `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;

describe('parseSecret', () => {
  it('accepts each shape README.md documents', () => {
    const slack = parseSecret(
      spec('slack'),
      JSON.stringify({ botToken: canary('xoxb'), signingSecret: bareCanary() }),
    );
    expect(slack.ok).toBe(true);
    const app = parseSecret(
      spec('github'),
      JSON.stringify({ appId: 123, installationId: '456', privateKey: pem(bareCanary(64)) }),
    );
    expect(app).toMatchObject({ ok: true, value: { appId: '123', installationId: '456' } });
    expect(parseSecret(spec('github'), JSON.stringify({ token: canary('github_pat') })).ok).toBe(true);
    expect(
      parseSecret(spec('jira'), JSON.stringify({ email: 'bot@example.com', apiToken: canary('jira') })).ok,
    ).toBe(true);
    const datadog = { apiKey: bareCanary(), appKey: bareCanary(20), webhookSecret: bareCanary() };
    expect(parseSecret(spec('datadog'), JSON.stringify(datadog)).ok).toBe(true);
  });

  it('names each wrong or missing field without quoting it', () => {
    const token = canary('xoxp');
    const result = parseSecret(spec('slack'), JSON.stringify({ botToken: token, appToken: 'short' }));
    expect(result).toEqual({
      ok: false,
      problems: [
        'botToken: expected a value starting with xoxb-',
        'signingSecret: required',
        'appToken: too short to be real',
      ],
    });
    const app = parseSecret(spec('github'), JSON.stringify({ appId: 'x12', privateKey: canary('key') }));
    expect(app.ok).toBe(false);
    expect(!app.ok && app.problems).toEqual([
      'appId: expected digits',
      'installationId: required',
      'privateKey: expected a PEM private key (-----BEGIN … PRIVATE KEY-----)',
    ]);
  });

  it('never echoes the text it was given, valid JSON or not', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SECRET_NAMES),
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.string().map((s) => `{"botToken": "xoxb-${s}`),
        ),
        (integration, junk) => {
          const secret = `${junk}${canary('zz')}`;
          const result = parseSecret(spec(integration), secret);
          expect(result.ok).toBe(false);
          if (!result.ok) for (const problem of result.problems) expect(problem).not.toContain('test-canary');
        },
      ),
    );
  });

  it('refuses more than 64 KiB', () => {
    const result = parseSecret(
      spec('jira'),
      JSON.stringify({ email: 'a@b.co', apiToken: 'x'.repeat(70_000) }),
    );
    expect(result).toEqual({ ok: false, problems: ['larger than 64 KiB (Secrets Manager allows 64 KiB)'] });
  });
});

describe('sensitiveValues', () => {
  it('lists the secret fields, not the identifiers', () => {
    const value = { appId: '1', installationId: '2', privateKey: pem('k') };
    expect(sensitiveValues(spec('github'), value)).toEqual([value.privateKey]);
    const jira = { email: 'bot@example.com', apiToken: 'tok-123456' };
    expect(sensitiveValues(spec('jira'), jira)).toEqual(['tok-123456']);
  });
});
