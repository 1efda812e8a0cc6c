import type { AuditTrail } from './audit/sink.js';
import type { Clock } from './clock.js';
import type { AlertAction } from './command-kit/command-spec.js';
import type { ApprovalDesk } from './command-kit/held-action.js';
import type { Component } from './component.js';
import type { ConfigSection } from './config/section.js';
import type { Config } from './config.js';
import type { CredentialProvider } from './credentials/provider.js';
import type { SecretCatalog } from './credentials/secret-spec.js';
import type { IntegrationApis, IntegrationKey } from './integrations/integration.js';
import type { Logger } from './log.js';
import type { Registry } from './metrics.js';
import type { SecretRotation } from './secret-rotation/service.js';
import type { RequestRefusals } from './security/detections/refusals.js';
import type { MessageWatcher } from './slack/message-watcher.js';
import type { State } from './store/state.js';

/**
 * What a feature is built with: the same pieces every part of the bot shares, and the APIs of the
 * integrations it declared (`needs`), typed.
 */
export interface FeatureContext<N extends IntegrationKey = never> {
  config: Config;
  credentials: CredentialProvider;
  /** Every secret the provider loads, with its shape (which fields are sensitive). */
  secrets: SecretCatalog;
  state: State;
  apis: Pick<IntegrationApis, N>;
  isConfigured(name: IntegrationKey): boolean;
  audit: AuditTrail;
  clock: Clock;
  log: Logger;
  metrics: Registry;
  /** This process's name in leases and claims shared with other replicas. */
  owner: string;
  /** Starts and follows rotations of opsbot's secrets (the reminder, the leak watch). */
  secretRotation?: SecretRotation;
  /** Requests refused for a bad signature or secret, as they happen (the detections count them). */
  refusals?: RequestRefusals;
  /** What opsbot's own credential for an integration may do, as the vendor reports it (the access review). */
  grants?(name: IntegrationKey): Promise<Readonly<Record<string, string>> | undefined>;
  /** The buttons commands offer on alert roots now (Create Jira issue…). */
  alertActions(): readonly AlertAction[];
}

/**
 * A feature: long-lived work built on integrations (alerts from Datadog into Slack, the
 * dev-environment reaper). It contributes components; the app runs those of every feature whose
 * integrations are registered and, where it says so, configured.
 *
 * @example
 * export const reaperFeature = defineFeature({
 *   name: 'devenv-reaper',
 *   needs: ['devenv', 'slack'],
 *   whenConfigured: ['devenv'],
 *   components: (ctx) => [new DevenvReaper({ api: ctx.apis.devenv, … })],
 * });
 */
export interface Feature<N extends IntegrationKey = IntegrationKey> {
  name: string;
  /** The integrations it uses; all must be registered. */
  needs: readonly N[];
  /** Of those, the ones that must also be configured at start-up for it to run at all. */
  whenConfigured?: readonly N[];
  components(ctx: FeatureContext<N>): Component[];
  /**
   * What it watches people's messages for in the channels opsbot is in (the leak watch): the app
   * runs every feature's watchers from one Slack `message` listener. Called once, with the same
   * context as `components`.
   */
  messageWatchers?(ctx: FeatureContext<N>): MessageWatcher[];
  /** Its section of the configuration file (`alerts:`), merged into the file schema. */
  config?: ConfigSection;
  /**
   * Approvals by a second person: the gate every command, button and form passes after access
   * allowed it (at most one feature provides it). Called once, after `components`, with the same
   * context.
   */
  approvals?(ctx: FeatureContext<N>): ApprovalDesk;
}

/** Declares a feature with its integrations' APIs typed. */
export function defineFeature<const N extends IntegrationKey>(feature: Feature<N>): Feature {
  return feature as unknown as Feature;
}
