import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CredentialUnavailableError } from '../../../src/credentials/errors.js';
import type { Credential, CredentialChange } from '../../../src/credentials/provider.js';
import type { SlackSecret } from '../../../src/integrations/slack.js';
import { SecretValue } from '../../../src/log/secret-value.js';
import { SlackSocketReceiver, type SocketClient } from '../../../src/slack/socket-receiver.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { captureLogs } from '../../helpers/log-capture.js';

/** A Socket Mode client whose every `start()` follows the script: connect, or fail with an error. */
class FakeClient extends EventEmitter implements SocketClient {
  disconnected = false;
  constructor(
    readonly appToken: string,
    private readonly outcome: 'connect' | 'hang' | Error,
  ) {
    super();
  }
  async start(): Promise<unknown> {
    if (this.outcome === 'hang') return new Promise(() => {}); // Slack never says hello
    if (this.outcome !== 'connect') throw this.outcome;
    this.emit('connected');
    return {};
  }
  async disconnect(): Promise<void> {
    this.disconnected = true;
    this.emit('disconnected');
  }
  /** Slack (or the network) closes the socket. */
  drop(): void {
    this.emit('disconnected');
  }
}

const slackRejects = (error = 'invalid_auth') =>
  Object.assign(new Error(`An API error occurred: ${error}`), {
    code: 'slack_webapi_platform_error',
    data: { ok: false, error },
  });

function credential(versionId: string, appToken?: string): Credential<SlackSecret> {
  return {
    integration: 'slack',
    name: 'opsbot/slack',
    arn: 'arn:slack',
    versionId,
    value: new SecretValue<SlackSecret>({
      botToken: 'xoxb-test',
      signingSecret: 'signing-secret',
      ...(appToken ? { appToken } : {}),
    }),
  };
}

/** A receiver on a fake clock, fake clients, and a fake credential provider. */
function harness(
  first: Credential<SlackSecret>,
  script: (appToken: string) => 'connect' | 'hang' | Error,
  options: { unavailableReads?: number } = {},
) {
  let unavailable = options.unavailableReads ?? 0;
  const clock = new FakeClock();
  const capture = captureLogs({ level: 'info' });
  const clients: FakeClient[] = [];
  const refreshes: Array<[string, string]> = [];
  const listeners = new Set<(change: CredentialChange<SlackSecret>) => void>();
  let current = first;
  const receiver = new SlackSocketReceiver({
    log: capture.log,
    clock,
    random: () => 0.5,
    backoff: { baseMs: 1_000, capMs: 8_000 },
    createClient: (appToken) => {
      const client = new FakeClient(appToken, script(appToken));
      clients.push(client);
      return client;
    },
    credentials: {
      get: async <S>() => {
        if (unavailable-- > 0) {
          throw new CredentialUnavailableError('Slack', 'it has not been loaded from the secret store yet.');
        }
        return current as unknown as Credential<S>;
      },
      onChange: (_: unknown, listener: (change: CredentialChange<SlackSecret>) => void) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      refreshAfterAuthFailure: async (integration, versionId) => {
        refreshes.push([integration, versionId]);
      },
      secretName: (integration) => `opsbot/${integration}`,
    },
  });
  const rotate = (next: Credential<SlackSecret>) => {
    const previous = current;
    current = next;
    for (const listener of listeners) listener({ integration: 'slack', previous, current: next });
  };
  const messages = () => capture.records().map((r) => String(r.msg));
  return { receiver, clock, clients, refreshes, rotate, messages };
}

describe('SlackSocketReceiver', () => {
  it('is connected only while a socket is open, and reopens at once when Slack closes it', async () => {
    const h = harness(credential('v1', 'xapp-1'), () => 'connect');
    await h.receiver.start();
    await expect.poll(() => h.receiver.connected).toBe(true);
    h.clients[0]?.drop();
    expect(h.receiver.connected).toBe(false);
    await expect.poll(() => h.clients.length).toBe(2);
    await expect.poll(() => h.receiver.connected).toBe(true);
    expect(h.clock.delays()).toEqual([]); // no backoff for a connection that was open
    expect(h.messages()).toContain('Socket Mode connection closed; reconnecting');
    await h.receiver.stop();
  });

  it('on invalid_auth asks the provider to check the secret, then backs off (doubling, capped)', async () => {
    const h = harness(credential('v1', 'xapp-revoked'), () => slackRejects());
    await h.receiver.start();
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      await expect.poll(() => h.clock.delays().length).toBe(1);
      waits.push(h.clock.delays()[0] as number);
      h.clock.runNext();
    }
    // random() = 0.5: three quarters of min(cap, base × 2^(n-1))
    expect(waits).toEqual([750, 1_500, 3_000, 6_000, 6_000, 6_000]);
    expect(h.refreshes[0]).toEqual(['slack', 'v1']);
    expect(h.receiver.connected).toBe(false);
    const messages = h.messages();
    expect(messages.filter((m) => m === 'Slack rejected the Socket Mode app token')).toHaveLength(1);
    expect(messages).toContain('Socket Mode still cannot connect');
    await h.receiver.stop();
  });

  it('gives up a handshake Slack never finishes after 30 s on its clock, closes it, and backs off', async () => {
    const h = harness(credential('v1', 'xapp-1'), () => 'hang');
    await h.receiver.start();
    await expect.poll(() => h.clock.delays()).toEqual([30_000]);
    h.clock.advance(29_999);
    expect(h.clients[0]?.disconnected).toBe(false);
    h.clock.advance(1);
    // random() = 0.5: three quarters of the 1 s base before the next attempt.
    await expect.poll(() => h.clock.delays()).toEqual([750]);
    expect(h.clients[0]?.disconnected).toBe(true);
    expect(h.receiver.connected).toBe(false);
    expect(h.messages()).toContain('Socket Mode could not connect; retrying');
    h.clock.runNext();
    await expect.poll(() => h.clients.length).toBe(2);
    await h.receiver.stop();
  });

  it('a new secret version cuts the backoff short and connects with its app token', async () => {
    const h = harness(credential('v1', 'xapp-revoked'), (token) =>
      token === 'xapp-revoked' ? slackRejects('token_revoked') : 'connect',
    );
    await h.receiver.start();
    await expect.poll(() => h.clock.delays().length).toBe(1);
    h.rotate(credential('v2', 'xapp-new'));
    await expect.poll(() => h.receiver.connected).toBe(true);
    expect(h.clients.at(-1)?.appToken).toBe('xapp-new');
    expect(h.clock.delays()).toEqual([]);
    await h.receiver.stop();
    expect(h.clients.at(-1)?.disconnected).toBe(true);
  });

  it('a rotation opens the new connection before it closes the old one', async () => {
    const h = harness(credential('v1', 'xapp-1'), () => 'connect');
    await h.receiver.start();
    await expect.poll(() => h.receiver.connected).toBe(true);
    h.rotate(credential('v2', 'xapp-2'));
    await expect.poll(() => h.clients[0]?.disconnected).toBe(true);
    expect(h.clients.map((c) => c.appToken)).toEqual(['xapp-1', 'xapp-2']);
    expect(h.clients[1]?.disconnected).toBe(false);
    expect(h.receiver.connected).toBe(true);
    await h.receiver.stop();
  });

  it('without an appToken says once what to add, and connects when a version with one arrives', async () => {
    const h = harness(credential('v1'), () => 'connect');
    const advice =
      'Socket Mode is waiting for an appToken in opsbot/slack: add "appToken": "xapp-…" (connections:write) and opsbot connects without a restart';
    await h.receiver.start();
    await expect.poll(() => h.messages()).toContain(advice);
    await h.receiver.start(); // a second look at the same version says nothing new
    await new Promise((resolve) => setImmediate(resolve)); // let that look run
    expect(h.clients).toEqual([]);
    expect(h.receiver.connected).toBe(false);
    expect(h.messages().filter((m) => m === advice)).toHaveLength(1);
    h.rotate(credential('v2', 'xapp-1'));
    await expect.poll(() => h.receiver.connected).toBe(true);
    await h.receiver.stop();
  });

  it('waits for a slack secret that is not loaded yet, reading it again with backoff', async () => {
    const h = harness(credential('v1', 'xapp-1'), () => 'connect', { unavailableReads: 2 });
    await h.receiver.start();
    await expect.poll(() => h.clock.delays()).toEqual([750]);
    expect(h.messages()).toContain('Socket Mode is waiting for the slack secret to load');
    h.clock.runNext();
    await expect.poll(() => h.clock.delays()).toEqual([1_500]);
    h.clock.runNext();
    await expect.poll(() => h.receiver.connected).toBe(true);
    await h.receiver.stop();
  });

  it('after stop, a closed socket is not reopened', async () => {
    const h = harness(credential('v1', 'xapp-1'), () => 'connect');
    await h.receiver.start();
    await expect.poll(() => h.receiver.connected).toBe(true);
    await h.receiver.stop();
    expect(h.clients[0]?.disconnected).toBe(true);
    h.clients[0]?.drop();
    h.rotate(credential('v2', 'xapp-2'));
    expect(h.clients).toHaveLength(1);
    expect(h.receiver.connected).toBe(false);
  });
});
