import type { Clock, Random } from '../clock.js';
import type { Component } from '../component.js';
import type { Config } from '../config.js';
import type { CredentialProvider } from '../credentials/provider.js';
import type { SlackApi } from '../integrations/slack-api.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import { SlackHttpReceiver } from '../slack/receiver.js';
import { RecentSignatures } from '../slack/recent-signatures.js';
import { replayCheck } from '../slack/replay-check.js';
import { SlackSocketReceiver } from '../slack/socket-receiver.js';
import type { State } from '../store/state.js';

/** How long a verified Slack signature is remembered: Slack's 5-minute window, and a little more. */
const REPLAY_WINDOW_MS = 6 * 60_000;

export type SlackReceiver = SlackHttpReceiver | SlackSocketReceiver;

/**
 * The receiver `OPSBOT_SLACK_MODE` chooses: Events API over opsbot's own HTTP listener (signatures
 * checked against the provider's secrets, replays refused in memory, and in the shared State when
 * replicas share it), or Socket Mode (an outbound WebSocket with the app token).
 */
export function createSlackReceiver(deps: {
  config: Config;
  provider: CredentialProvider;
  state: State;
  clock: Clock;
  random?: Random;
  log: Logger;
  metrics: Registry;
  /** Told of each request refused for its signature (security detections count them). */
  onRefused?: () => void;
}): SlackReceiver {
  const { config, provider, clock, log } = deps;
  if (config.slack.mode === 'http') {
    return new SlackHttpReceiver({
      credentials: provider,
      clock,
      log,
      registry: deps.metrics,
      ...(deps.onRefused ? { onRefused: deps.onRefused } : {}),
      seen: replayCheck({
        recent: new RecentSignatures(() => clock.now(), REPLAY_WINDOW_MS),
        dedupe: deps.state.dedupe,
        shared: deps.state.shared,
        ttlMs: REPLAY_WINDOW_MS,
      }),
    });
  }
  return new SlackSocketReceiver({
    credentials: provider,
    log,
    clock,
    ...(deps.random ? { random: deps.random } : {}),
    // An environment variable cannot change: main.ts exits 2 instead of waiting.
    secretChangesLive: config.secrets.source !== 'env',
    ...(config.slack.apiUrl ? { apiUrl: config.slack.apiUrl } : {}),
  });
}

/** The receiver as a component: HTTP serves `/slack/events` and drains; Socket Mode is ready while connected. */
export function slackComponent(receiver: SlackReceiver, clock: Clock): Component {
  if (receiver instanceof SlackHttpReceiver) {
    return {
      name: 'slack-events',
      routes: [receiver.route()],
      stop: (deadline) => receiver.drain(Math.max(0, deadline - clock.now())),
    };
  }
  return {
    name: 'slack',
    ready: () => receiver.connected,
    stop: async () => {
      await receiver.stop();
      await receiver.drain();
    },
  };
}

/** Starts Socket Mode (it waits for its secret itself); learns the bot's ids once the required secrets are in, or says what is missing. */
export function afterFirstLoad(
  required: readonly string[],
  provider: CredentialProvider,
  slack: SlackApi,
  receiver: SlackReceiver,
  log: Logger,
  /** False for the env source: its values cannot change, so main.ts stops instead of waiting. */
  secretsCanChange: boolean,
): void {
  // Socket Mode starts either way: it waits for the slack secret (and its appToken) by itself.
  if (receiver instanceof SlackSocketReceiver) {
    receiver
      .start()
      .catch((error: unknown) =>
        log.error({ err: error }, 'Socket Mode could not start; /readyz answers 503'),
      );
  }
  const missing = required.filter((name) => !provider.isLoaded(name));
  if (missing.length > 0) {
    log.error(
      { secrets: missing.map((name) => provider.secretName(name)) },
      secretsCanChange
        ? 'required secrets are not loaded yet; /readyz answers 503 and loading keeps retrying'
        : 'required secrets are missing or malformed in the environment; opsbot stops (exit 2)',
    );
    return;
  }
  // Learn the bot's ids now, so the first command does not wait for auth.test.
  slack
    .identity()
    .catch((error: unknown) => log.warn({ err: error }, 'auth.test failed; will retry on the first event'));
}
