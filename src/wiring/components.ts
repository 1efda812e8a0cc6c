import type { ApprovalDesk } from '../command-kit/held-action.js';
import type { Component } from '../component.js';
import type { CredentialProvider } from '../credentials/provider.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { IntegrationKey } from '../integrations/integration.js';
import type { BuiltIntegrations, IntegrationRegistry } from '../integrations/registry.js';
import type { MessageWatcher } from '../slack/message-watcher.js';
import type { State } from '../store/state.js';

/**
 * opsbot's own components: the state store, the integrations' clients, the secrets' loading; and
 * `loading()`, which settles once every secret's first load has finished or failed, the
 * integrations have prepared, and `afterFirstLoad` has run.
 */
/**
 * How long a shared store (DynamoDB) found ready (a read and a conditional write answered) counts as
 * ready: a load balancer asks every few seconds from each zone, and each probe is two billed calls.
 * A local file (SQLite) costs nothing to probe and is probed at every ask.
 */
export const STATE_READY_FOR_MS = 30_000;

export function coreComponents(deps: {
  state: State;
  integrations: BuiltIntegrations;
  provider: CredentialProvider;
  required: readonly string[];
  afterFirstLoad: () => void;
  /** The app clock: a shared store found ready is not probed again for {@link STATE_READY_FOR_MS}. */
  now: () => number;
}): { components: Component[]; loading: () => Promise<void> } {
  const { state, integrations, provider, required } = deps;
  let loading: Promise<void> = Promise.resolve();
  let readyUntil = Number.NEGATIVE_INFINITY;
  const components: Component[] = [
    // Ready when the store answers a read and takes a (conditional) write: a bounded write probe,
    // never a long wait, so /readyz says 503 while no audit record could be written. On a shared
    // store a success counts for 30 s (each probe is two billed calls); a failure is probed again
    // at the next ask.
    {
      name: 'state',
      ready: async () => {
        if (deps.now() < readyUntil) return true;
        const ok = (await state.ping()) && (await state.audit.writable());
        readyUntil = ok && state.shared ? deps.now() + STATE_READY_FOR_MS : Number.NEGATIVE_INFINITY;
        return ok;
      },
      stop: async () => state.close(),
    },
    // Ready once the integrations whose secrets exist have loaded what they need (the Datadog client).
    { name: 'integrations', ready: () => integrations.prepared, stop: async () => integrations.close() },
    {
      name: 'secrets',
      ready: () => required.every((name) => provider.isLoaded(name)),
      degraded: () => provider.troubles(),
      // Secrets load in the background: /healthz answers at once, /readyz says 503 until they are in;
      // then the integrations prepare, before Socket Mode connects or the load balancer sends traffic.
      start: async () => {
        loading = provider
          .start()
          .then(() => integrations.prepare())
          .then(deps.afterFirstLoad);
      },
      stop: () => provider.close(),
    },
  ];
  return { components, loading: () => loading };
}

/** Each feature's components (alerts, the dev-environment reaper), when the integrations it needs are in. */
export function featureComponents(
  features: readonly Feature[],
  registry: IntegrationRegistry,
  integrations: BuiltIntegrations,
  context: Omit<FeatureContext<IntegrationKey>, 'apis' | 'isConfigured'>,
): Component[] {
  return featureParts(features, registry, integrations, context).components;
}

/**
 * What each feature contributes when the integrations it needs are in: its components, and its
 * message watchers (each feature's both built from one context, so they may share what they build).
 */
export function featureParts(
  features: readonly Feature[],
  registry: IntegrationRegistry,
  integrations: BuiltIntegrations,
  context: Omit<FeatureContext<IntegrationKey>, 'apis' | 'isConfigured'>,
): { components: Component[]; messageWatchers: MessageWatcher[]; approvals?: ApprovalDesk } {
  const isConfigured = (name: string) => integrations.isConfigured(name);
  const components: Component[] = [];
  const messageWatchers: MessageWatcher[] = [];
  let approvals: ApprovalDesk | undefined;
  for (const feature of features) {
    const runs =
      feature.needs.every((need) => registry.has(need)) && (feature.whenConfigured ?? []).every(isConfigured);
    if (!runs) continue;
    const ctx: FeatureContext<IntegrationKey> = {
      ...context,
      apis: integrations.apis as FeatureContext<IntegrationKey>['apis'],
      isConfigured,
    };
    components.push(...feature.components(ctx));
    messageWatchers.push(...(feature.messageWatchers?.(ctx) ?? []));
    if (feature.approvals) {
      if (approvals) throw new Error(`two features provide approvals (the second is ${feature.name})`);
      approvals = feature.approvals(ctx);
    }
  }
  return { components, messageWatchers, ...(approvals ? { approvals } : {}) };
}
