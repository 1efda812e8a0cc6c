import { describe, expect, it } from 'vitest';
import { fileSchemaOf } from '../../../src/config/file-schema.js';
import { CONFIG_SECTIONS } from '../../../src/features.js';

/** `security:` of the configuration file (the leak watch's reports). */
describe('the security section', () => {
  const schema = fileSchemaOf(CONFIG_SECTIONS);

  it('takes a channel id, and is optional', () => {
    expect(schema.parse({ security: { channel: 'C0SEC' } }).security).toEqual({ channel: 'C0SEC' });
    expect(schema.parse({ security: { channel: 'G0PRIV' } }).security).toEqual({ channel: 'G0PRIV' });
    expect(schema.parse({}).security).toEqual({});
  });

  it('refuses a channel name or an unknown key, saying what it expects', () => {
    const byName = schema.safeParse({ security: { channel: '#security' } });
    expect(byName.error?.issues.map((i) => i.message)).toContain(
      'expected a Slack channel id such as C0123ABCD',
    );
    expect(schema.safeParse({ security: { chanel: 'C0SEC' } }).success).toBe(false);
  });
});
