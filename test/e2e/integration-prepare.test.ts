import { afterEach, describe, expect, it } from 'vitest';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import type { AnyIntegration, SecretIntegration } from '../../src/integrations/integration.js';
import type { BuiltIntegrations } from '../../src/integrations/registry.js';
import { type SandboxBot, startSandboxBot } from '../../src/sandbox/sandbox-bot.js';
import { SimulatedStatusPage } from '../../src/sandbox/statuspage.js';
import type { State } from '../../src/store/state.js';
import { coreComponents } from '../../src/wiring/components.js';
import { statusPageIntegration } from '../fixtures/statuspage.js';
import { canary } from '../helpers/canary.js';

/**
 * An integration's `prepare` (the Datadog client's import, which blocks the event loop for a second
 * or more) runs once the secrets are loaded and before the replica says it is ready, so no command
 * or alert is being served while it runs; only for integrations whose secret exists.
 */
const service = new SimulatedStatusPage();
let bot: SandboxBot | undefined;
afterEach(async () => {
  await bot?.stop();
  bot = undefined;
  await service.stop();
});

/** The fixture under another name, so one bot can have it with a secret and without. */
function renamed<S, C, A>(
  integration: SecretIntegration<string, S, C, A>,
  name: string,
): SecretIntegration<string, S, C, A> {
  return { ...integration, name, secret: { ...integration.secret, name, title: name } };
}

describe("an integration's prepare step", () => {
  it('runs once for an integration whose secret exists, before start-up is done; never for one without', async () => {
    const { url } = await service.start();
    const calls: string[] = [];
    let loadingSettledBeforePrepareEnded = false;
    const base = statusPageIntegration(url);
    const withSecret: typeof base = {
      ...base,
      prepare: async () => {
        calls.push('statuspage');
        // A slow, blocking load, as an import is.
        const until = performance.now() + 200;
        while (performance.now() < until) {}
        await new Promise((resolve) => setTimeout(resolve, 200));
        loadingSettledBeforePrepareEnded = bot !== undefined;
      },
    };
    const withoutSecret = {
      ...renamed(base, 'statuspage2'),
      prepare: async () => {
        calls.push('statuspage2');
      },
    };
    bot = await startSandboxBot({
      pollSeconds: 60,
      extraIntegrations: [withSecret, withoutSecret] as AnyIntegration[],
      extraSecrets: { statuspage: { apiKey: canary('sp') } },
    });
    expect(calls).toEqual(['statuspage']);
    expect(loadingSettledBeforePrepareEnded).toBe(false);
    const ready = await fetch(`${bot.base}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, boolean> }).checks.integrations).toBe(true);
  });

  it('that fails is logged and leaves the replica ready (the first call tries again)', async () => {
    const { url } = await service.start();
    bot = await startSandboxBot({
      pollSeconds: 60,
      extraIntegrations: [
        {
          ...statusPageIntegration(url),
          prepare: async () => {
            throw new Error('the client library could not be loaded');
          },
        },
      ],
      extraSecrets: { statuspage: { apiKey: canary('sp') } },
    });
    expect((await fetch(`${bot.base}/readyz`)).status).toBe(200);
    const warned = bot.logLines
      .map((l) => JSON.parse(l) as { msg?: string; integration?: string })
      .filter((l) => l.msg?.startsWith('could not prepare an integration'));
    expect(warned).toEqual([expect.objectContaining({ integration: 'statuspage' })]);
  });
});

describe('readiness while the integrations prepare', () => {
  it('is false until every prepare has settled; Socket Mode and the first auth.test wait for it', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let prepared = false;
    const order: string[] = [];
    const integrations = {
      get prepared() {
        return prepared;
      },
      prepare: async () => {
        order.push('prepare');
        await gate;
        prepared = true;
      },
      close: () => {},
    } as unknown as BuiltIntegrations;
    const provider = { start: async () => void order.push('secrets') } as unknown as CredentialProvider;
    const { components, loading } = coreComponents({
      state: {} as State,
      integrations,
      provider,
      required: [],
      now: () => Date.now(),
      afterFirstLoad: () => void order.push('after first load'),
    });
    const check = components.find((c) => c.name === 'integrations');
    for (const c of components) await c.start?.();
    const settled = loading();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await check?.ready?.()).toBe(false);
    expect(order).toEqual(['secrets', 'prepare']);
    open();
    await settled;
    expect(await check?.ready?.()).toBe(true);
    expect(order).toEqual(['secrets', 'prepare', 'after first load']);
  });
});
