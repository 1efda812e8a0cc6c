import { describe, expect, it } from 'vitest';
import { STAGE } from '../../../src/credentials/source.js';
import { OwnValues } from '../../../src/leak-watch/own-values.js';
import { scanText } from '../../../src/leaks/scan.js';
import { canary } from '../../helpers/canary.js';
import { CATALOG } from '../../helpers/catalog.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { FakeSecretSource, providerOn } from '../../helpers/fake-source.js';

/** The own-value index follows the provider: CURRENT, PENDING, PREVIOUS in its grace, sensitive fields only. */
function rig() {
  const clock = new FakeClock();
  const source = new FakeSecretSource();
  const { provider } = providerOn(source, { clock, previousGraceMs: 300_000 });
  const own = new OwnValues(provider, CATALOG);
  const datadog = () => ({ apiKey: canary('dd'), appKey: canary('dd'), webhookSecret: canary('wh') });
  const find = (value: string) => own.find(`look: ${value} ok`, scanText(`look: ${value} ok`));
  const poll = async () => {
    clock.advance(120_000);
    await provider.settled();
  };
  return { clock, source, provider, own, datadog, find, poll };
}

describe('OwnValues', () => {
  it("finds a loaded secret's sensitive values, and never its other fields", async () => {
    const { source, provider, find } = rig();
    const jira = { email: 'opsbot-service-account@example.com', apiToken: canary('jira') };
    source.put('opsbot/jira', JSON.stringify(jira));
    await provider.start(['jira']);
    expect(find(jira.apiToken)).toMatchObject([{ secretName: 'jira', field: 'apiToken' }]);
    expect(find(jira.email)).toEqual([]);
  });

  it('indexes a pending version as soon as it is prefetched, and follows a rotation', async () => {
    const { source, provider, find, poll, datadog } = rig();
    const first = datadog();
    source.put('opsbot/datadog', JSON.stringify(first));
    await provider.start(['datadog']);
    expect(find(first.webhookSecret)).toMatchObject([{ secretName: 'datadog', field: 'webhookSecret' }]);

    const second = datadog();
    source.put('opsbot/datadog', JSON.stringify(second), [STAGE.pending]);
    await poll();
    expect(find(second.apiKey)).toMatchObject([{ secretName: 'datadog', field: 'apiKey' }]);

    const third = datadog();
    source.put('opsbot/datadog', JSON.stringify(third), [STAGE.current]);
    await poll();
    expect(find(third.appKey)).toMatchObject([{ secretName: 'datadog', field: 'appKey' }]);
    // The previous version still verifies webhooks during its grace: still ours.
    expect(find(first.webhookSecret)).toMatchObject([{ secretName: 'datadog' }]);
  });

  it('forgets the previous version once its grace ends', async () => {
    const { clock, source, provider, find, poll, datadog } = rig();
    const first = datadog();
    source.put('opsbot/datadog', JSON.stringify(first));
    await provider.start(['datadog']);
    source.put('opsbot/datadog', JSON.stringify(datadog()), [STAGE.current]);
    await poll();
    expect(find(first.webhookSecret)).toHaveLength(1);
    clock.advance(300_001);
    await provider.settled();
    expect(find(first.webhookSecret)).toEqual([]);
  });

  it('holds digests only: its JSON and inspection show a count', async () => {
    const { source, provider, own, datadog } = rig();
    const value = datadog();
    source.put('opsbot/datadog', JSON.stringify(value));
    await provider.start(['datadog']);
    own.sync();
    expect(own.size).toBeGreaterThan(0);
    const shown = JSON.stringify(own);
    for (const v of Object.values(value)) expect(shown).not.toContain(v);
  });
});
