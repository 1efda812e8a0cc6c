import { describe, expect, it } from 'vitest';
import { asSlackSends, unknownMentions } from '../../../src/console/client-text.js';

const directory = {
  users: { U0ADMIN: 'ada', U0DEV: 'dev' },
  channels: { C0DEV: 'dev', C0OPS: 'ops' },
  usergroups: { S0PLATFORM: 'platform' },
};
const send = (text: string) => asSlackSends(text, directory);

describe('asSlackSends (what a Slack client sends for a command with should_escape)', () => {
  it('turns @user, #channel and @group of the workspace into entities', () => {
    expect(send('audit --user @dev --limit 2')).toBe('audit --user <@U0DEV|dev> --limit 2');
    expect(send('whoami @ADA')).toBe('whoami <@U0ADMIN|ada>');
    expect(send('in #ops and #dev')).toBe('in <#C0OPS|ops> and <#C0DEV|dev>');
    expect(send('for @platform')).toBe('for <!subteam^S0PLATFORM|@platform>');
    expect(send('--user=@dev')).toBe('--user=<@U0DEV|dev>');
    expect(send('ask @dev.')).toBe('ask <@U0DEV|dev>.');
  });

  it('turns @here, @channel and @everyone into broadcasts', () => {
    expect(send('ping @here @channel @everyone')).toBe('ping <!here> <!channel> <!everyone>');
  });

  it('leaves unknown names, references and addresses alone', () => {
    expect(send('audit --user @alice in #nowhere')).toBe('audit --user @alice in #nowhere');
    expect(send('pr acme/web#42')).toBe('pr acme/web#42');
    expect(send('mail dev@example.com')).toBe('mail dev@example.com');
  });

  it('escapes &, < and > first, so typed entities arrive as text', () => {
    expect(send('<!channel> & <@U0ADMIN> > x')).toBe('&lt;!channel&gt; &amp; &lt;@U0ADMIN&gt; &gt; x');
  });

  it('wraps links as Slack does', () => {
    expect(send('see https://example.com/a?b=1&c=2.')).toBe('see <https://example.com/a?b=1&amp;c=2>.');
  });
});

describe('unknownMentions', () => {
  it('names the @names the workspace does not know (Slack sends them as text)', () => {
    expect(unknownMentions('audit --user @alice --command gh @dev @platform @here', directory)).toEqual([
      '@alice',
    ]);
    expect(unknownMentions('mail dev@example.com about #nowhere and acme/web#42', directory)).toEqual([]);
    expect(unknownMentions('@bob @bob @carol.', directory)).toEqual(['@bob', '@carol']);
  });
});
