import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Item operations the State store uses; no Scan, no table or backup administration. */
export const TABLE_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];

/**
 * The State table (README.md, "State: one process or several"): `pk`/`sk` strings, on-demand, TTL
 * `expiresAt`; point-in-time recovery, encryption at rest under the AWS-managed key, deletion
 * protection, kept when the stack is deleted.
 */
export class StateTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: { taskRole: iam.IRole }) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    props.taskRole.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'StateTableItems',
        actions: TABLE_ITEM_ACTIONS,
        resources: [this.table.tableArn],
      }),
    );
  }
}
