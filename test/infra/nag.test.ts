import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpsbotApp } from '../../infra/lib/opsbot-app.js';
import { CDK_CONTEXT, HTTP_CONTEXT, type Synthesized, synth } from './synth.js';

/** Every acknowledgement (suppression) under a construct: rule id → reason. */
function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe.each([
  ['Socket Mode', {}],
  ['HTTP mode', HTTP_CONTEXT],
])('cdk-nag AwsSolutions, %s', (_name, context) => {
  let s: Synthesized;
  beforeAll(() => {
    // The synth itself runs the pack registered by the app (and CloudFormation's own template
    // checks, as `npm run synth` does): a finding would throw here.
    s = synth(context, { cfnValidation: true });
  }, 60_000);
  afterAll(() => s?.cleanup());

  it('finds nothing that is not acknowledged, errors or warnings', () => {
    const report = new AwsSolutionsChecks().validateScope(s.stack);
    expect(
      report.violations.map(
        (v) =>
          `${v.ruleName} (${v.severity}) at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('leaves no AwsSolutions error or warning annotation', () => {
    const annotations = Annotations.fromStack(s.stack);
    expect(annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });

  it('acknowledges each AwsSolutions finding in code, on the construct it concerns, with a reason', () => {
    const acks = acknowledgements(s.stack).filter((a) => a.id.includes('AwsSolutions-'));
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.path, ack.id).not.toBe(s.stack.node.path);
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThan(80);
    }
  });
});

describe('the app’s cdk-nag check', () => {
  it('fails the synth on an unacknowledged finding', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'opsbot-nag-'));
    try {
      const { app, stack } = createOpsbotApp({
        context: { ...CDK_CONTEXT, 'aws:cdk:disable-asset-staging': true },
        outdir,
      });
      // No TLS enforcement, no access logs: AwsSolutions-S1 and S10.
      new s3.Bucket(stack, 'CarelessBucket');
      expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);

  it('is registered by infra/app.ts through createOpsbotApp (no other entry point)', () => {
    const entry = readFileSync(new URL('../../infra/app.ts', import.meta.url), 'utf8');
    expect(entry).toContain('createOpsbotApp()');
    const builder = readFileSync(new URL('../../infra/lib/opsbot-app.ts', import.meta.url), 'utf8');
    expect(builder).toMatch(/Validations\.of\(app\)\.addPlugins\(new AwsSolutionsChecks\(/);
  });
});
