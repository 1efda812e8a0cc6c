import { describe, expect, it } from 'vitest';
import { LEAK_RULES } from '../../../src/leaks/rules.js';
import { MAX_FINDINGS, MAX_SCANNED_CHARS, scanText } from '../../../src/leaks/scan.js';
import {
  awsExampleKeyId,
  CLEAN_KINDS,
  cleanCorpus,
  randomOf,
  TOKEN_KINDS,
  TOKEN_SHAPES,
  tokenCorpus,
} from './corpus.js';

const HEX = '0123456789abcdef';
const kinds = (text: string) => scanText(text).map((f) => f.kind);

describe('scanText on the token corpus (generated at run time)', () => {
  it('has a rule for every kind the corpus makes, and the corpus a shape for every rule', () => {
    expect(TOKEN_KINDS.sort()).toEqual(LEAK_RULES.map((r) => r.kind).sort());
  });

  it('finds every kind exactly where it is (all but the generic assignment: every sample)', () => {
    const missed = new Map<string, number>();
    const samples = tokenCorpus(40);
    for (const sample of samples) {
      const hit = scanText(sample.text).some(
        (f) => f.kind === sample.kind && f.start === sample.start && f.end === sample.end,
      );
      if (!hit) missed.set(sample.kind, (missed.get(sample.kind) ?? 0) + 1);
    }
    // A person's password can repeat characters enough to look like a word: a few may pass.
    const generic = missed.get('generic-secret') ?? 0;
    missed.delete('generic-secret');
    expect(Object.fromEntries(missed)).toEqual({});
    expect(generic).toBeLessThanOrEqual(10);
  });

  it('reports kind, title and offsets only: no field carries the value', () => {
    for (const sample of tokenCorpus(2)) {
      const value = sample.text.slice(sample.start, sample.end);
      for (const finding of scanText(sample.text)) {
        expect(Object.keys(finding).sort()).toEqual(['end', 'kind', 'start', 'title']);
        expect(JSON.stringify(finding)).not.toContain(value.slice(0, 12));
      }
    }
  });
});

describe('scanText on ordinary engineering text', () => {
  it('finds nothing in commit messages, SHAs, UUIDs, stack traces, base64 images, Jira keys, URLs, versions, timestamps, digests', () => {
    const flagged = cleanCorpus(CLEAN_KINDS * 40)
      .map((text) => ({ text: text.slice(0, 160), found: kinds(text) }))
      .filter((r) => r.found.length > 0);
    expect(flagged).toEqual([]);
  });

  it('counts bare hex as a Datadog key only beside a Datadog key word', () => {
    const sha = randomOf(HEX, 40);
    expect(kinds(`datadog monitor 1234 fired after ${sha} was deployed`)).toEqual([]);
    expect(kinds(`DD_APP_KEY=${sha}`)).toEqual(['datadog-application-key']);
    expect(kinds(`the datadog app key is ${sha}`)).toEqual(['datadog-application-key']);
    expect(kinds(`${randomOf(HEX, 32)} is the new dd api key`)).toEqual(['datadog-api-key']);
    expect(kinds(`DD_API_KEY was rotated.${' '.repeat(80)}${randomOf(HEX, 32)}`)).toEqual([]);
  });

  it('counts 40 base64 characters as an AWS secret key only beside an access key id or its name', () => {
    const secret = `Aa${randomOf('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+', 38)}`;
    expect(kinds(`build ${secret} done`)).toEqual([]);
    expect(kinds(`AKIA${randomOf('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)} ${secret}`)).toEqual([
      'aws-access-key-id',
      'aws-secret-access-key',
    ]);
    expect(kinds(`SecretAccessKey: ${secret}`)).toEqual(['aws-secret-access-key']);
    // A git SHA beside an access key id has no upper case: not a secret key.
    expect(kinds(`AKIA${randomOf('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)} at ${randomOf(HEX, 40)}`)).toEqual([
      'aws-access-key-id',
    ]);
  });

  it("skips AWS's documented example keys and illustrations such as xoxb-xxxx", () => {
    expect(kinds(`aws_access_key_id = ${awsExampleKeyId()}`)).toEqual([]);
    expect(kinds('tokens look like xoxb-xxxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx')).toEqual([]);
    expect(kinds('ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx is a classic token')).toEqual([]);
  });

  it('does not count a name, a path or a placeholder assigned to a secret-looking key', () => {
    for (const text of [
      'secretName: "opsbot/slack"',
      'token_file=/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      `password: \${DB_PASSWORD}`,
      'api_key = <your-api-key>',
      'secret: arn:aws:secretsmanager:eu-west-1:123456789012:secret:opsbot/slack-AbCdEf',
      'token_class: SlackTokenizerFactoryImpl',
      'secret-store: v1.24.3-rc.1',
    ])
      expect(kinds(text), text).toEqual([]);
  });
});

describe('scanText, what a finding covers', () => {
  it('prefers the specific rule: a Slack token assigned to token= is a Slack bot token, once', () => {
    const shape = TOKEN_SHAPES.find((s) => s.kind === 'slack-bot-token');
    const token = shape?.make().value ?? '';
    expect(kinds(`SLACK_BOT_TOKEN=${token}`)).toEqual(['slack-bot-token']);
  });

  it('covers a PEM key from its BEGIN line to its END line, and a header alone when the end is missing', () => {
    const shape = TOKEN_SHAPES.find((s) => s.kind === 'private-key');
    const pem = shape?.make().value ?? '';
    const text = `key:\n${pem}\nthanks`;
    expect(scanText(text)).toEqual([
      { kind: 'private-key', title: 'Private key', start: 5, end: 5 + pem.length },
    ]);
    const header = pem.split('\n')[0] ?? '';
    expect(scanText(`${pem.slice(0, 200)}…`)).toEqual([
      { kind: 'private-key', title: 'Private key', start: 0, end: header.length },
    ]);
  });

  it('leaves trailing sentence punctuation out of an assigned value', () => {
    const value = `Zq${randomOf(HEX, 14)}`;
    const text = `the password=${value}. ok`;
    const [finding] = scanText(text);
    expect(finding && text.slice(finding.start, finding.end)).toBe(value);
  });

  it(`reports at most ${MAX_FINDINGS} findings, in order, without overlaps`, () => {
    const samples = tokenCorpus(2);
    const text = samples.map((s) => s.text).join('\n');
    const found = scanText(text);
    expect(found).toHaveLength(MAX_FINDINGS);
    for (let i = 1; i < found.length; i++)
      expect((found[i] as { start: number }).start).toBeGreaterThanOrEqual(
        (found[i - 1] as { end: number }).end,
      );
  });

  it(`reads at most the first ${MAX_SCANNED_CHARS} characters`, () => {
    const token = `ghp_${randomOf('abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789', 36)}`;
    expect(kinds(`${' '.repeat(MAX_SCANNED_CHARS - 50)}${token}`)).toEqual(['github-personal-token']);
    expect(kinds(`${' '.repeat(MAX_SCANNED_CHARS)}${token}`)).toEqual([]);
  });
});
