import { arch, platform } from 'node:os';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * AWS Control Tower's proactive controls, as AWS publishes them (the cfn-guard rules bundled in
 * `@cdklabs/cdk-validator-cfnguard`, with the cfn-guard binary itself: nothing is downloaded). An
 * organisation that turns them on refuses, at deploy time, a stack that breaks one; checking them in
 * the synth says so first, offline.
 */

/** The plugin's name, as CDK prefixes its rule ids (`<plugin>::<rule>`) in reports and acknowledgements. */
export const CONTROL_TOWER_PLUGIN = 'cdk-validator-cfnguard';

/**
 * The controls this stack acknowledges somewhere (HTTP mode's access-log bucket only): the Control
 * Tower id, as its documentation names it, → the cfn-guard rule that implements it.
 */
export const CONTROL_TOWER_RULES = {
  'CT.S3.PR.2': 's3_bucket_logging_enabled_check',
  'CT.S3.PR.9': 's3_bucket_object_lock_enabled_check',
  'CT.S3.PR.10': 's3_bucket_default_encryption_kms_check',
} as const;
export type AcknowledgedControl = keyof typeof CONTROL_TOWER_RULES;

/** The cfn-guard binary ships for Linux and macOS, x86-64 and arm64 only. */
export const controlTowerSupported = (): boolean =>
  (platform() === 'linux' || platform() === 'darwin') && (arch() === 'x64' || arch() === 'arm64');

/** The validator with every bundled Control Tower rule on; undefined where cfn-guard has no binary. */
export function controlTowerValidator(): CfnGuardValidator | undefined {
  if (!controlTowerSupported()) return undefined;
  return new CfnGuardValidator({ controlTowerRulesEnabled: true });
}

/**
 * Acknowledges one Control Tower control on one construct, with the reason it cannot hold there.
 * An organisation that enforces that control still refuses the resource: the reason must say what to
 * do then (README.md, "Deploy it").
 */
export function acknowledgeControl(scope: IConstruct, control: AcknowledgedControl, reason: string): void {
  Validations.of(scope).acknowledge({
    id: `${CONTROL_TOWER_PLUGIN}::${CONTROL_TOWER_RULES[control]}`,
    reason: `${control}: ${reason}`,
  });
}
