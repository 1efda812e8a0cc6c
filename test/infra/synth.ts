import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { createOpsbotApp, type OpsbotApp } from '../../infra/lib/opsbot-app.js';
import { ROOT } from '../helpers/process.js';

/** The defaults of infra/cdk.json, as the CLI would pass them. */
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(ROOT, 'infra/cdk.json'), 'utf8'),
).context;

export const CERTIFICATE_ARN =
  'arn:aws:acm:eu-west-1:111122223333:certificate/0f5e3c2a-1b2c-4d5e-8f90-123456789abc';
/** HTTP mode behind the load balancer, in a known account and region. */
export const HTTP_CONTEXT = {
  slackMode: 'http',
  region: 'eu-west-1',
  account: '111122223333',
  certificateArn: CERTIFICATE_ARN,
};

export interface Synthesized extends OpsbotApp {
  template: Template;
  json: CfnTemplate;
  outdir: string;
  /** Removes the cloud assembly. */
  cleanup: () => void;
}

/** CloudFormation JSON, navigated by the assertions. */
// biome-ignore lint/suspicious/noExplicitAny: a synthesized template is untyped JSON
export type Json = any;

export interface CfnResource {
  Type: string;
  Properties?: Record<string, Json>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, Json>;
  Parameters?: Record<string, Json>;
}

/**
 * Builds and synthesizes the app with infra/cdk.json's context plus `overrides`, as the CLI would
 * (cdk-nag included: a finding fails the synth). Asset staging is off unless `staging` is set, so
 * is CDK's built-in CloudFormation validation (about 1.5 s a synth) unless `cfnValidation` is, and
 * so are AWS Control Tower's controls (cfn-guard, about 4 s a synth) unless `controlTower` is.
 */
export function synth(
  overrides: Record<string, unknown> = {},
  options: { staging?: boolean; cfnValidation?: boolean; controlTower?: boolean } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'opsbot-cdk-'));
  const context = {
    ...CDK_CONTEXT,
    ...overrides,
    // Without staging, no bundling either: the rotation function's bundle is built only when staged.
    ...(options.staging ? {} : { 'aws:cdk:disable-asset-staging': true, 'aws:cdk:bundling-stacks': [] }),
  };
  let built: OpsbotApp;
  let template: Template;
  try {
    built = createOpsbotApp(
      { context, outdir, builtinCloudFormationValidation: options.cfnValidation === true },
      { controlTower: options.controlTower === true },
    );
    template = Template.fromStack(built.stack);
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...built,
    template,
    json: template.toJSON() as CfnTemplate,
    outdir,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

export type Statement = {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

export const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

export const actionsOf = (s: Statement): string[] => list(s.Action) as string[];
export const resourcesOf = (s: Statement): unknown[] => list(s.Resource);

/** The logical id of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const child = (construct.node.defaultChild ?? construct) as CfnElement;
  return child.stack.getLogicalId(child);
}

/** Every identity-policy statement attached to a role: its inline policies and every AWS::IAM::Policy naming it. */
export function roleStatements(json: CfnTemplate, roleId: string): Statement[] {
  const role = json.Resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role in the template`);
  const inline = list(role.Properties?.Policies).flatMap((p: Json) => list(p.PolicyDocument.Statement));
  const attached = Object.values(json.Resources)
    .filter(
      (r) =>
        (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
        list(r.Properties?.Roles).some((ref: Json) => ref?.Ref === roleId),
    )
    .flatMap((r) => list(r.Properties?.PolicyDocument.Statement));
  return [...inline, ...attached] as Statement[];
}

/** Every identity-policy statement in the template (roles' inline policies and policy resources). */
export function allIdentityStatements(json: CfnTemplate): Statement[] {
  return Object.values(json.Resources).flatMap((r) => {
    if (r.Type === 'AWS::IAM::Role')
      return list(r.Properties?.Policies).flatMap((p: Json) => list(p.PolicyDocument.Statement));
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      return list(r.Properties?.PolicyDocument.Statement);
    return [];
  }) as Statement[];
}

export const resourcesOfType = (json: CfnTemplate, type: string): Array<[string, CfnResource]> =>
  Object.entries(json.Resources).filter(([, r]) => r.Type === type);

/** Does an IAM action pattern (`ec2:*`, `*`, `secretsmanager:Get*`) cover `action`? */
export function covers(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
  return re.test(action);
}
