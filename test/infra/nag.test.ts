import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTROL_TOWER_PLUGIN,
  CONTROL_TOWER_RULES,
  controlTowerSupported,
  controlTowerValidator,
} from '../../infra/lib/control-tower.js';
import { INTAKE_CONTROLS } from '../../infra/lib/intake.js';
import { createOpsbotApp } from '../../infra/lib/opsbot-app.js';
import { ROOT } from '../helpers/process.js';
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

/** One plugin's part of the validation report CDK writes into the cloud assembly. */
interface PluginReport {
  pluginName: string;
  conclusion: string;
  violations: Array<{
    ruleName: string;
    description: string;
    violatingConstructs: Array<{ constructPath: string }>;
  }>;
  suppressedViolations?: Array<{ ruleName: string; acknowledgedAt: string; reason: string }>;
}

function pluginReport(s: Synthesized, name: string): PluginReport | undefined {
  const path = join(s.outdir, 'validation-report.json');
  if (!existsSync(path)) return undefined;
  const report = JSON.parse(readFileSync(path, 'utf8')) as { pluginReports: PluginReport[] };
  return report.pluginReports.find((r) => r.pluginName === name);
}

/** Secrets from Vault: no Secrets Manager secret, key or rotation function; egress to Vault's port. */
const VAULT_CONTEXT = {
  secretSource: 'vault',
  vault: { addr: 'https://vault.internal:8200', role: 'opsbot', namespace: 'team-a' },
};

/**
 * The Control Tower controls each mode acknowledges, and where: Socket Mode only the Datadog intake's
 * function URL, open to anyone since Datadog cannot sign (its permissions and URL are the function's
 * children), Vault nothing.
 */
const ACKNOWLEDGED_CONTROLS: Record<string, Array<[string, string]>> = {
  'Socket Mode': Object.values(INTAKE_CONTROLS).map((rule) => [rule, 'Opsbot/DatadogIntake/Function']),
  'Socket Mode, secrets from Vault': [],
  'HTTP mode': (['CT.S3.PR.10', 'CT.S3.PR.2', 'CT.S3.PR.9'] as const).map((control) => [
    CONTROL_TOWER_RULES[control],
    'Opsbot/Http/AccessLogs',
  ]),
};

describe.each([
  ['Socket Mode', {}],
  ['HTTP mode', HTTP_CONTEXT],
  ['Socket Mode, secrets from Vault', VAULT_CONTEXT],
])('cdk-nag AwsSolutions and AWS Control Tower, %s', (name, context) => {
  let s: Synthesized;
  let failure: Error | undefined;
  beforeAll(() => {
    // The synth itself runs the plugins registered by the app (cdk-nag, Control Tower's controls,
    // and CloudFormation's own template checks), as `npm run synth` does: a finding throws here.
    try {
      s = synth(context, { cfnValidation: true, controlTower: true });
    } catch (error) {
      failure = error as Error;
    }
  }, 120_000);
  afterAll(() => s?.cleanup());

  it('synthesizes: no unacknowledged finding of any plugin', () => {
    expect(failure?.message).toBeUndefined();
  });

  it('checks the EventBridge path to /webhooks/aws-events exactly where the stack creates it (HTTP mode, Secrets Manager)', () => {
    expect(s.stack.secretEvents !== undefined).toBe(name === 'HTTP mode');
  });

  it('passes every bundled AWS Control Tower proactive control, acknowledging only the expected ones', () => {
    // CDK reports only the plugins that found something, acknowledged or not: with Vault, none.
    const report = pluginReport(s, CONTROL_TOWER_PLUGIN);
    expect(
      (report?.violations ?? []).map(
        (v) => `${v.description} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
    expect(report?.conclusion ?? 'success').toBe('success');
    const acknowledged = (report?.suppressedViolations ?? []).map((v) => [v.ruleName, v.acknowledgedAt]);
    expect(acknowledged.sort()).toEqual([...(ACKNOWLEDGED_CONTROLS[name] ?? [])].sort());
    for (const v of report?.suppressedViolations ?? [])
      expect(v.reason.length, `${v.acknowledgedAt} ${v.ruleName}`).toBeGreaterThan(80);
  });

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
    // The assembly synthesized above (Annotations.fromStack would synthesize, and validate, again).
    const messages = s.app.synth().getStackArtifact(s.stack.artifactId).messages;
    const nag = messages.filter(
      (m) => (m.level === 'error' || m.level === 'warning') && /AwsSolutions-/.test(String(m.entry.data)),
    );
    expect(nag.map((m) => `${m.id}: ${m.entry.data}`)).toEqual([]);
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

describe('the app’s cdk-nag and Control Tower checks', () => {
  it('fail the synth on an unacknowledged finding of either', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'opsbot-nag-'));
    try {
      const { app, stack } = createOpsbotApp({
        context: { ...CDK_CONTEXT, 'aws:cdk:disable-asset-staging': true },
        outdir,
      });
      // No TLS enforcement, no access logs: AwsSolutions-S1 and S10.
      new s3.Bucket(stack, 'CarelessBucket');
      // Unencrypted: Control Tower's CT.CLOUDWATCH.PR.3.
      new logs.LogGroup(stack, 'CarelessLogs', { retention: logs.RetentionDays.ONE_YEAR });
      let message = '';
      try {
        app.synth();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/AwsSolutions-S10/);
      expect(message).toMatch(/CT\.CLOUDWATCH\.PR\.3.*\n.*CarelessLogs/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);

  it('are registered by infra/app.ts through createOpsbotApp (no other entry point), with every bundled control on', () => {
    const entry = readFileSync(new URL('../../infra/app.ts', import.meta.url), 'utf8');
    expect(entry).toContain('createOpsbotApp()');
    const builder = readFileSync(new URL('../../infra/lib/opsbot-app.ts', import.meta.url), 'utf8');
    expect(builder).toMatch(/Validations\.of\(app\)\.addPlugins\(new AwsSolutionsChecks\(/);
    expect(builder).toMatch(/controlTowerValidator\(\)/);
    expect(controlTowerSupported()).toBe(true);
    const rules = join(ROOT, 'node_modules/@cdklabs/cdk-validator-cfnguard/rules/control-tower/cfn-guard');
    const files = readdirSync(rules, { recursive: true }).filter((f) => String(f).endsWith('.guard'));
    expect(files.length).toBeGreaterThan(100);
    expect(controlTowerValidator()?.ruleIds).toHaveLength(files.length);
  });
});
