import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * Control Tower CT.KMS.PR.3: nobody creates grants on the key, except for an AWS resource or as an
 * AWS service. Grants are how a principal hands its use of a key to someone else; opsbot never needs
 * one (Secrets Manager and CloudWatch Logs use their keys directly).
 */
export function limitGrantsToAwsServices(key: kms.Key): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'GrantsOnlyForAwsServices',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
}

/** What CloudWatch Logs does with a log group's key (AWS's documented key policy, actions spelled out). */
export const LOGS_KEY_ACTIONS = [
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:DescribeKey',
];

/**
 * The key of the stack's CloudWatch log groups (container logs, VPC flow logs; Control Tower
 * CT.CLOUDWATCH.PR.3): rotated yearly, kept when the stack is deleted (so are the log groups), usable
 * by CloudWatch Logs only for log groups of this account and region.
 */
export class LogKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'opsbot CloudWatch log groups (container logs, VPC flow logs)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsEncryptsThisAccountsLogGroups',
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: LOGS_KEY_ACTIONS,
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
          },
        },
      }),
    );
    limitGrantsToAwsServices(this.key);
  }
}
