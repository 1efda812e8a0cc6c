import { describe, expect, it } from 'vitest';
import { fileSchemaOf } from '../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../src/features.js';

/** `security:` of the configuration file: the channel, the review, expected principals, detections. */
describe('the security section', () => {
  const schema = fileSchemaOf(CONFIG_SECTIONS);
  const MINUTE = 60_000;

  it('is optional: every setting has a default', () => {
    const security = schema.parse({}).security;
    expect(security).toEqual({
      review: { every: 30 * 24 * 60 * MINUTE, days: 90, off: false },
      expectedPrincipals: [],
      leakScan: true,
      detections: {
        denials: { count: 5, within: 10 * MINUTE, off: false },
        firstUse: { learnDays: 90, minHistory: 20, off: false },
        offHours: { minHistory: 20, off: false },
        massDestructive: { count: 5, within: 5 * MINUTE, actions: ['devenv:down', 'dd:mute'], off: false },
        chain: { every: 10 * MINUTE, records: 1_000, off: false },
        unexpectedSecretVersion: { off: false },
        signatureFailures: { count: 20, within: MINUTE, off: false },
        secretAccess: { off: false },
      },
    });
  });

  it("takes the contract's example, and any rule's `off`", () => {
    const security = schema.parse({
      security: {
        channel: 'C0SECURITY',
        review: { every: '30d', days: 90 },
        expectedPrincipals: ['arn:aws:iam::111122223333:role/opsbot-task'],
        leakScan: true,
        detections: { denials: { count: 5, within: '10m' }, offHours: { off: true } },
      },
    }).security;
    expect(security.channel).toBe('C0SECURITY');
    expect(security.expectedPrincipals).toEqual(['arn:aws:iam::111122223333:role/opsbot-task']);
    expect(security.detections.offHours.off).toBe(true);
    expect(security.detections.denials).toEqual({ count: 5, within: 10 * MINUTE, off: false });
  });

  it('refuses a channel name, an unknown key, a bad ARN or threshold, saying what it expects', () => {
    const byName = schema.safeParse({ security: { channel: '#security' } });
    expect(byName.error?.issues.map((i) => i.message)).toContain(
      'expected a Slack channel id such as C0123ABCD',
    );
    expect(schema.safeParse({ security: { chanel: 'C0SEC' } }).success).toBe(false);
    const arn = schema.safeParse({ security: { expectedPrincipals: ['opsbot-task'] } });
    expect(arn.error?.issues.map((i) => i.message)).toContain(
      'expected an IAM role or user ARN such as arn:aws:iam::111122223333:role/opsbot-task, or vault:role/<name>',
    );
    expect(
      schema.parse({ security: { expectedPrincipals: ['vault:role/opsbot'] } }).security.expectedPrincipals,
    ).toEqual(['vault:role/opsbot']);
    expect(schema.safeParse({ security: { detections: { denials: { count: 0 } } } }).success).toBe(false);
    expect(schema.safeParse({ security: { detections: { denials: { within: 'soon' } } } }).success).toBe(
      false,
    );
    expect(schema.safeParse({ security: { detections: { nope: {} } } }).success).toBe(false);
  });
});
