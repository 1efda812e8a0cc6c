import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_WATCHED_TEXT, watchedMessageOf } from '../../../src/slack/message-watcher.js';

/** The Events API `message` event as a watcher reads it (message.channels / message.groups). */
const base = {
  type: 'message',
  channel: 'C0DEV',
  channel_type: 'channel',
  user: 'U0DEV',
  ts: '1700000000.000100',
};

describe('watchedMessageOf', () => {
  it('reads a person’s message, in a thread too', () => {
    expect(watchedMessageOf({ ...base, text: 'hello', thread_ts: '1700000000.000001' }, 5)).toEqual({
      channel: 'C0DEV',
      user: 'U0DEV',
      ts: '1700000000.000100',
      text: 'hello',
      threadTs: '1700000000.000001',
      receivedAt: 5,
    });
  });

  it('reads the subtypes that carry a person’s text', () => {
    for (const subtype of ['file_share', 'thread_broadcast', 'me_message'])
      expect(watchedMessageOf({ ...base, subtype, text: 'x' }, 0)?.text).toBe('x');
  });

  it('skips bots, opsbot itself, and subtypes without a person’s text', () => {
    expect(watchedMessageOf({ ...base, text: 'x', bot_id: 'B0OPSBOT' }, 0)).toBeUndefined();
    expect(watchedMessageOf({ ...base, text: 'x', subtype: 'bot_message' }, 0)).toBeUndefined();
    for (const subtype of ['channel_join', 'channel_topic', 'message_deleted', 'channel_purpose'])
      expect(watchedMessageOf({ ...base, subtype, text: 'x' }, 0)).toBeUndefined();
    expect(watchedMessageOf({ ...base, text: '' }, 0)).toBeUndefined();
    expect(watchedMessageOf({ ...base, user: undefined, text: 'x' }, 0)).toBeUndefined();
  });

  it('reads an edit from its inner message, with the text before it', () => {
    const edit = {
      type: 'message',
      subtype: 'message_changed',
      channel: 'G0PRIV',
      ts: '1700000009.000200',
      message: {
        type: 'message',
        user: 'U0DEV',
        text: 'new',
        ts: base.ts,
        edited: { user: 'U0DEV', ts: '1700000009.000100' },
      },
      previous_message: { type: 'message', user: 'U0DEV', text: 'old', ts: base.ts },
    };
    expect(watchedMessageOf(edit, 1)).toMatchObject({
      channel: 'G0PRIV',
      ts: base.ts,
      text: 'new',
      editedTs: '1700000009.000100',
      previousText: 'old',
    });
    // An edit that changed no text (an unfurl, a reaction-driven update) is nothing to read.
    expect(watchedMessageOf({ ...edit, message: { ...edit.message, text: 'old' } }, 1)).toBeUndefined();
    expect(watchedMessageOf({ ...edit, message: { ...edit.message, bot_id: 'B1' } }, 1)).toBeUndefined();
  });

  it('bounds the text handed on', () => {
    const long = 'a'.repeat(MAX_WATCHED_TEXT + 10);
    expect(watchedMessageOf({ ...base, text: long }, 0)?.text).toHaveLength(MAX_WATCHED_TEXT);
  });

  it('never throws, and whatever it returns is well-formed (property)', () => {
    const idish = fc.oneof(fc.constantFrom('C0DEV', 'U0DEV', 'G1', ''), fc.string({ maxLength: 40 }));
    const event = fc.record(
      {
        type: fc.oneof(fc.constant('message'), fc.string({ maxLength: 10 })),
        subtype: fc.option(fc.constantFrom('message_changed', 'bot_message', 'file_share', 'channel_join'), {
          nil: undefined,
        }),
        channel: idish,
        user: idish,
        ts: fc.oneof(fc.constant('1700000000.000100'), fc.string({ maxLength: 20 })),
        text: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
        bot_id: fc.option(fc.constant('B1'), { nil: undefined }),
        message: fc.option(fc.anything(), { nil: undefined }),
        previous_message: fc.option(fc.anything(), { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(event, fc.anything()), (e) => {
        const m = watchedMessageOf(e, 0);
        if (!m) return;
        expect(m.channel).toMatch(/^[A-Z0-9]{2,32}$/);
        expect(m.user).toMatch(/^[A-Z0-9]{2,32}$/);
        expect(m.ts).toMatch(/^\d{1,12}\.\d{1,9}$/);
        expect(m.text.length).toBeGreaterThan(0);
        expect(m.text.length).toBeLessThanOrEqual(MAX_WATCHED_TEXT);
      }),
    );
  });
});
