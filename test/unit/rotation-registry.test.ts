import { describe, expect, it } from 'vitest';

describe("the rotation function's kinds", () => {
  it('are every rotatable secret, whichever module is imported first', async () => {
    // The kinds' modules before the integrations': the import order that once left `datadog`
    // without a rotation (its kind was a const its integration module read mid-cycle).
    const { datadogRotationSpec } = await import('../../src/rotation/datadog.js');
    const { slackRotation } = await import('../../src/rotation/slack.js');
    const { INTEGRATIONS } = await import('../../src/integrations/index.js');
    const { auditRotation } = await import('../../src/rotation/audit.js');
    const { rotationKinds } = await import('../../src/rotation/registry.js');
    expect(datadogRotationSpec.name).toBe('datadog-rotation');
    expect(slackRotation().spec.name).toBe('slack');
    const kinds = rotationKinds(INTEGRATIONS, [auditRotation]);
    expect([...kinds.keys()].sort()).toEqual(['audit', 'datadog', 'github', 'jira', 'slack']);
    for (const [name, kind] of kinds) expect(kind.spec.name).toBe(name);
  });
});
