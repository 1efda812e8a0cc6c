import { type AlertEvent, parseAlert } from '../../../src/alerts/payload.js';

/** When opsbot received the test alerts (epoch ms): 2023-11-14 22:13:20 UTC. */
export const RECEIVED_AT = 1_700_000_000_000;

/** A notification as Datadog sends opsbot's webhook template: every variable substituted as a string. */
export function datadogBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '7423456789012345678',
    monitorId: '12345678',
    cycleKey: '7305467237431923111',
    transition: 'Triggered',
    title: '[Triggered on {host:web-1}] High CPU on web-1',
    message: '@slack-ops CPU has been above 90% for 5 minutes.\n\nSee the runbook.',
    priority: 'P2',
    scope: 'host:web-1,env:prod',
    tags: 'env:prod, team:payments,service:checkout , team:payments',
    snapshot: 'https://p.datadoghq.com/snapshot/view/dd-snapshots-prod/org_1/2023-11-14/abc.png',
    link: 'https://app.datadoghq.com/event/event?id=7423456789012345678',
    date: '1699999990000',
    orgId: '123456',
    hostname: 'web-1',
    ...overrides,
  };
}

/** The AlertEvent of a body, failing the test when the body is refused. */
export function alertOf(overrides: Record<string, unknown> = {}, receivedAt = RECEIVED_AT): AlertEvent {
  const parsed = parseAlert(datadogBody(overrides), receivedAt);
  if (!parsed.ok) throw new Error(`test body refused: ${parsed.field}: ${parsed.problem}`);
  return parsed.alert;
}
