import { describe, expect, it } from 'vitest';
import type { CredentialProvider } from '../../src/credentials/provider.js';
import type { BuiltIntegrations } from '../../src/integrations/registry.js';
import type { State } from '../../src/store/state.js';
import { coreComponents, STATE_READY_FOR_MS } from '../../src/wiring/components.js';

/** The state component's readiness over a store that counts its probes and can be made to fail. */
function rig(shared: boolean) {
  let now = 0;
  let up = true;
  const probes = { ping: 0, writable: 0 };
  const state = {
    shared,
    ping: async () => {
      probes.ping++;
      return up;
    },
    audit: {
      writable: async () => {
        probes.writable++;
        return up;
      },
    },
  } as unknown as State;
  const { components } = coreComponents({
    state,
    integrations: {} as BuiltIntegrations,
    provider: {} as CredentialProvider,
    required: [],
    afterFirstLoad: () => {},
    now: () => now,
  });
  const component = components.find((c) => c.name === 'state');
  if (!component?.ready) throw new Error('no state readiness');
  const ready = component.ready;
  return {
    probes,
    ready: () => Promise.resolve(ready()),
    advance: (ms: number) => {
      now += ms;
    },
    fail: () => {
      up = false;
    },
  };
}

describe("the state store's readiness", () => {
  it('on a shared store (DynamoDB) probes once per 30 s while ready, and at every ask once it fails', async () => {
    const r = rig(true);
    expect(await r.ready()).toBe(true);
    for (let i = 0; i < 5; i++) {
      r.advance(5_000);
      expect(await r.ready()).toBe(true);
    }
    expect(r.probes).toEqual({ ping: 1, writable: 1 });
    r.advance(STATE_READY_FOR_MS);
    r.fail();
    expect(await r.ready()).toBe(false);
    expect(await r.ready()).toBe(false);
    expect(r.probes.ping).toBe(3);
  });

  it('on a local file (SQLite) probes at every ask: a locked database is 503 at once', async () => {
    const r = rig(false);
    expect(await r.ready()).toBe(true);
    expect(await r.ready()).toBe(true);
    r.fail();
    expect(await r.ready()).toBe(false);
    expect(r.probes.ping).toBe(3);
  });
});
