import { describe, expect, it } from 'vitest';
import { ChannelMessages } from '../../../src/console/channel-messages.js';

describe('ChannelMessages', () => {
  it('keeps the messages of each channel newest last; an edit keeps its place', () => {
    const messages = new ChannelMessages();
    expect(messages.latest('C0DEV')).toBeUndefined();
    messages.remember('C0DEV', { ts: '1.000001', from: 'U0DEV', text: 'the login page\nis slow' });
    messages.remember('C0DEV', { ts: '1.000002', from: 'U0OPSBOT', text: 'x'.repeat(100) });
    messages.remember('C0OPS', { ts: '1.000003', from: 'U0DEV', text: 'elsewhere' });
    messages.remember('C0DEV', { ts: '1.000001', from: 'U0DEV', text: 'edited' });
    expect(messages.latest('C0DEV')).toEqual({
      ts: '1.000002',
      from: 'U0OPSBOT',
      preview: `${'x'.repeat(59)}…`,
    });
    expect(messages.latest('C0DEV', 2)).toEqual({ ts: '1.000001', from: 'U0DEV', preview: 'edited' });
    expect(messages.latest('C0DEV', 3)).toBeUndefined();
    expect(messages.latest('C0DEV', 0)).toBeUndefined();
    expect(messages.count('C0DEV')).toBe(2);
    expect(messages.latest('C0OPS')?.preview).toBe('elsewhere');
  });

  it('is bounded per channel', () => {
    const messages = new ChannelMessages();
    for (let i = 0; i < 80; i++) messages.remember('C0DEV', { ts: `1.${i}`, from: 'U0DEV', text: `m${i}` });
    expect(messages.count('C0DEV')).toBe(50);
    expect(messages.latest('C0DEV', 50)?.preview).toBe('m30');
  });
});
