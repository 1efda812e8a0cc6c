import { randomBytes } from 'node:crypto';
import {
  AwsQueryError,
  FaultQueue,
  itemSet,
  leaf,
  node,
  pushBounded,
  type QueryAnswer,
  type QueryEndpoint,
  type QueryFault,
  type QueryParams,
  type QueryRequest,
  QueryServer,
  XML_DECLARATION,
} from './aws-query.js';
import { type AuthFailure, SimulatedSts, type StsOptions, type StsPrincipal } from './aws-sts.js';

export const EC2_API_VERSION = '2016-11-15';
const EC2_NS = `http://ec2.amazonaws.com/doc/${EC2_API_VERSION}/`;

export type InstanceStateName =
  | 'pending'
  | 'running'
  | 'shutting-down'
  | 'terminated'
  | 'stopping'
  | 'stopped';

export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export type Ec2Action =
  | 'RunInstances'
  | 'DescribeInstances'
  | 'TerminateInstances'
  | 'CreateTags'
  | 'DescribeLaunchTemplates';
const ACTIONS = new Set<string>([
  'RunInstances',
  'DescribeInstances',
  'TerminateInstances',
  'CreateTags',
  'DescribeLaunchTemplates',
]);

export interface Ec2Options {
  /** The credential authority: requests must be signed by credentials it knows. */
  sts: SimulatedSts;
  /** The clock instances change state by. Default: the STS's. */
  now?: () => number;
  /** Owner of the instances (`ownerId`). Default: the STS's account. */
  accountId?: string;
  /** Answer `UnauthorizedOperation` to base credentials (only STS sessions may call EC2). Default true. */
  refuseBaseCredentials?: boolean;
  /** `pending` → `running` after this long. Default 5,000 ms. */
  pendingMs?: number;
  /** `shutting-down` → `terminated` (and `stopping` → `stopped`) after this long. Default 5,000 ms. */
  shuttingDownMs?: number;
  /** Terminated instances stay visible to DescribeInstances this long (as in EC2). Default 1 hour. */
  terminatedVisibleMs?: number;
  /**
   * A new instance (RunInstances) is missing from DescribeInstances this long after launch, as EC2's
   * eventual consistency has it: filters skip it and its id is `InvalidInstanceID.NotFound`. Default 0.
   */
  describeLagMs?: number;
  /** At most this many instances (terminated ones included until they vanish). Default 20,000. */
  maxInstances?: number;
  /** Entries kept in `calls`. Default 10,000. */
  maxCalls?: number;
  /** The code for an expired session. Default `ExpiredToken` (400); EC2 may also answer `RequestExpired`. */
  expiredTokenCode?: 'ExpiredToken' | 'RequestExpired';
  /** For availability zones and DNS names. Default `us-east-1`. */
  region?: string;
}

export interface LaunchTemplateInit {
  /** `lt-` + 17 hex digits; generated when left out. */
  id?: string;
  name: string;
  /** Default `ami-0abcdef1234567890`. */
  imageId?: string;
  instanceType?: string;
  keyName?: string;
  subnetId?: string;
  httpTokens?: 'optional' | 'required';
  /** Instance tags the template applies (the request's TagSpecifications override them). */
  tags?: Record<string, string>;
}

export interface Ec2LaunchTemplate {
  id: string;
  name: string;
  imageId: string;
  instanceType: string | undefined;
  keyName: string | undefined;
  subnetId: string | undefined;
  httpTokens: 'optional' | 'required' | undefined;
  tags: Record<string, string>;
  version: number;
  createdAt: number;
}

/** One EC2 call, by whom: every request whose Authorization header named an access key. */
export interface Ec2Call {
  action: string;
  accessKeyId: string;
  /** `session`: minted by the simulated STS; `base`: registered with addCredentials; `unknown`: neither. */
  credential: 'session' | 'base' | 'unknown';
  /** The assumed-role session's SourceIdentity. */
  sourceIdentity?: string;
  sessionName?: string;
  roleArn?: string;
  /** When, on the injected clock. */
  at: number;
  /** The error code answered, when it failed. */
  error?: string;
}

export interface Ec2MetadataOptions {
  httpTokens: 'optional' | 'required';
  httpEndpoint: 'enabled' | 'disabled';
  httpPutResponseHopLimit: number;
  httpProtocolIpv6: 'enabled' | 'disabled';
  instanceMetadataTags: 'enabled' | 'disabled';
}

/** An instance as the simulator holds it (a copy; its state is as of the injected clock's now). */
export interface Ec2Instance {
  instanceId: string;
  reservationId: string;
  ownerId: string;
  imageId: string;
  instanceType: string;
  state: InstanceStateName;
  stateCode: number;
  privateIpAddress: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  launchTime: number;
  tags: Record<string, string>;
  clientToken: string | undefined;
  keyName: string | undefined;
  metadataOptions: Ec2MetadataOptions;
  launchTemplate: { id: string; name: string; version: number } | undefined;
  /** Who launched it through RunInstances (undefined for addInstance). */
  launchedBy:
    | { accessKeyId: string; sourceIdentity?: string; roleArn?: string; sessionName?: string }
    | undefined;
  terminatedAt: number | undefined;
}

export interface AddInstanceInit {
  instanceId?: string;
  imageId?: string;
  instanceType?: string;
  /** Default `running`. */
  state?: InstanceStateName;
  tags?: Record<string, string>;
  launchTime?: number;
  privateIpAddress?: string;
  keyName?: string;
  httpTokens?: 'optional' | 'required';
  /**
   * The launch template (id or name, added with addLaunchTemplate) it was launched from: EC2 then
   * sets `aws:ec2launchtemplate:id` and `:version`, which no `tags` here may (keys `aws:…` are refused).
   */
  launchTemplate?: string;
}

interface StoredInstance {
  seq: number;
  id: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  state: InstanceStateName;
  /** When the instance entered `state`. */
  since: number;
  /** Before this, DescribeInstances does not show it (see `describeLagMs`). */
  visibleAt: number;
  launchTime: number;
  privateIp: string;
  subnetId: string;
  vpcId: string;
  amiLaunchIndex: number;
  tags: Map<string, string>;
  clientToken: string | undefined;
  keyName: string | undefined;
  metadata: Ec2MetadataOptions;
  launchTemplate: { id: string; name: string; version: number } | undefined;
  launchedBy: Ec2Instance['launchedBy'];
  reason: string;
  stateReason: { code: string; message: string } | undefined;
  terminatedAt: number | undefined;
}

interface ClientTokenEntry {
  fingerprint: string;
  reservationId: string;
  instanceIds: string[];
}

const DEFAULT_IMAGE_ID = 'ami-0abcdef1234567890';
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const LAUNCH_TEMPLATE_ID = /^lt-[0-9a-f]{17}$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const MAX_TAGS = 50;
const MAX_IDS = 1_000;
const MAX_PER_RUN = 100;
const MAX_TEMPLATES = 1_000;
const MAX_FILTERS = 50;
const MAX_FILTER_VALUES = 200;

/**
 * A simulated Amazon EC2 (query protocol, API 2016-11-15) on 127.0.0.1 for what opsbot's dev
 * environments use: RunInstances (from a launch template, idempotent on ClientToken, tagged at
 * creation), DescribeInstances (ids, `tag:`/`tag-key`/`instance-state-name` filters, MaxResults +
 * NextToken pagination), TerminateInstances, CreateTags and DescribeLaunchTemplates, answered in
 * EC2's XML shapes. Requests are authenticated by the simulated STS: only sessions it minted are
 * served (base credentials get `UnauthorizedOperation` unless `refuseBaseCredentials: false`), and
 * `calls` records who made every call (access key, SourceIdentity), so tests can show the task
 * role never touches EC2. Instances move `pending` → `running` after `pendingMs` and
 * `shutting-down` → `terminated` after `shuttingDownMs` on the injected clock. As in EC2, an
 * instance launched from a template carries `aws:ec2launchtemplate:id` (no request may set an
 * `aws:` tag), and with `describeLagMs` a new instance is missing from DescribeInstances for a while.
 *
 * @example
 * const aws = new SimulatedAws({ now: () => clock.now() });
 * const { url } = await aws.start();
 * aws.sts.addCredentials('AKIDTASKROLE', 'task-secret');
 * aws.sts.addRole('arn:aws:iam::123456789012:role/opsbot-dev-env');
 * aws.ec2.addLaunchTemplate({ name: 'opsbot-dev', imageId: 'ami-0123456789abcdef0' });
 */
export class SimulatedEc2 implements QueryEndpoint {
  readonly service = 'ec2' as const;
  readonly apiVersion = EC2_API_VERSION;
  readonly sts: SimulatedSts;
  readonly ownerId: string;
  /** Who made each call, oldest first (bounded by `maxCalls`). */
  readonly calls: Ec2Call[] = [];
  refuseBaseCredentials: boolean;
  pendingMs: number;
  shuttingDownMs: number;
  terminatedVisibleMs: number;
  describeLagMs: number;
  readonly #now: () => number;
  readonly #maxInstances: number;
  readonly #maxCalls: number;
  readonly #expiredTokenCode: 'ExpiredToken' | 'RequestExpired';
  readonly #region: string;
  readonly #instances = new Map<string, StoredInstance>();
  readonly #templates = new Map<string, Ec2LaunchTemplate>();
  readonly #clientTokens = new Map<string, ClientTokenEntry>();
  readonly #faults = new FaultQueue();
  readonly #vpcId = `vpc-${hex(17)}`;
  readonly #subnetId = `subnet-${hex(17)}`;
  #seq = 0;
  #ipCounter = 0;
  #server: QueryServer | undefined;

  constructor(options: Ec2Options) {
    this.sts = options.sts;
    this.#now = options.now ?? (() => options.sts.now());
    this.ownerId = options.accountId ?? options.sts.accountId;
    this.refuseBaseCredentials = options.refuseBaseCredentials ?? true;
    this.pendingMs = options.pendingMs ?? 5_000;
    this.shuttingDownMs = options.shuttingDownMs ?? 5_000;
    this.terminatedVisibleMs = options.terminatedVisibleMs ?? 3_600_000;
    this.describeLagMs = options.describeLagMs ?? 0;
    this.#maxInstances = options.maxInstances ?? 20_000;
    this.#maxCalls = options.maxCalls ?? 10_000;
    this.#expiredTokenCode = options.expiredTokenCode ?? 'ExpiredToken';
    this.#region = options.region ?? 'us-east-1';
  }

  /** Serves EC2 alone (see {@link SimulatedAws} for STS and EC2 on one port). */
  async start(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    this.#server ??= new QueryServer([this]);
    return this.#server.start(port, host);
  }

  async stop(): Promise<void> {
    await this.#server?.stop();
  }

  get url(): string {
    return this.#server?.url ?? '';
  }

  addLaunchTemplate(init: LaunchTemplateInit): Ec2LaunchTemplate {
    const id = init.id ?? `lt-${hex(17)}`;
    if (!/^lt-[0-9a-z]{1,64}$/.test(id)) throw new Error(`addLaunchTemplate: bad id ${id}`);
    if (!/^[a-zA-Z0-9().\-/_]{3,128}$/.test(init.name))
      throw new Error(`addLaunchTemplate: bad name ${init.name}`);
    for (const t of this.#templates.values()) {
      if (t.name === init.name && t.id !== id)
        throw new Error(`addLaunchTemplate: name ${init.name} is taken`);
    }
    if (!this.#templates.has(id) && this.#templates.size >= MAX_TEMPLATES) {
      throw new Error(`addLaunchTemplate: at most ${MAX_TEMPLATES} launch templates`);
    }
    const template: Ec2LaunchTemplate = {
      id,
      name: init.name,
      imageId: init.imageId ?? DEFAULT_IMAGE_ID,
      instanceType: init.instanceType,
      keyName: init.keyName,
      subnetId: init.subnetId,
      httpTokens: init.httpTokens,
      tags: { ...(init.tags ?? {}) },
      version: 1,
      createdAt: this.#now(),
    };
    this.#templates.set(id, template);
    return { ...template, tags: { ...template.tags } };
  }

  removeLaunchTemplate(idOrName: string): void {
    for (const [id, t] of this.#templates)
      if (id === idOrName || t.name === idOrName) this.#templates.delete(id);
  }

  launchTemplates(): Ec2LaunchTemplate[] {
    return [...this.#templates.values()].map((t) => ({ ...t, tags: { ...t.tags } }));
  }

  /** Seeds an instance directly (a foreign or untagged one, say): no call, no credentials. */
  addInstance(init: AddInstanceInit = {}): Ec2Instance {
    this.#sweep();
    if (this.#instances.size >= this.#maxInstances) this.#evictTerminated(1);
    if (this.#instances.size >= this.#maxInstances) {
      throw new Error(`addInstance: at most ${this.#maxInstances} instances`);
    }
    const id = init.instanceId ?? this.#newInstanceId();
    if (!INSTANCE_ID.test(id)) throw new Error(`addInstance: bad instance id ${id}`);
    if (this.#instances.has(id)) throw new Error(`addInstance: ${id} exists`);
    const now = this.#now();
    const state = init.state ?? 'running';
    const tags = new Map(Object.entries(init.tags ?? {}));
    const reserved = [...tags.keys()].find((k) => k.toLowerCase().startsWith('aws:'));
    if (reserved !== undefined)
      throw new Error(`addInstance: tag keys starting with aws: are EC2's (${reserved})`);
    const template = init.launchTemplate
      ? [...this.#templates.values()].find(
          (t) => t.id === init.launchTemplate || t.name === init.launchTemplate,
        )
      : undefined;
    if (init.launchTemplate && !template)
      throw new Error(`addInstance: no launch template ${init.launchTemplate}`);
    if (template) {
      tags.set('aws:ec2launchtemplate:id', template.id);
      tags.set('aws:ec2launchtemplate:version', String(template.version));
    }
    const stored = this.#newInstance({
      id,
      reservationId: `r-${hex(17)}`,
      imageId: init.imageId ?? template?.imageId ?? DEFAULT_IMAGE_ID,
      instanceType: init.instanceType ?? 't3.micro',
      launchTime: init.launchTime ?? now,
      tags,
      keyName: init.keyName,
      clientToken: undefined,
      subnetId: this.#subnetId,
      metadata: defaultMetadata(init.httpTokens),
      launchTemplate: template
        ? { id: template.id, name: template.name, version: template.version }
        : undefined,
      launchedBy: undefined,
      amiLaunchIndex: 0,
    });
    if (init.privateIpAddress) stored.privateIp = init.privateIpAddress;
    this.#setState(stored, state, now);
    return this.#snapshot(stored);
  }

  /** Every instance still visible (terminated ones included until they vanish), oldest first. */
  instances(): Ec2Instance[] {
    this.#sweep();
    return [...this.#instances.values()].map((i) => this.#snapshot(i));
  }

  instance(instanceId: string): Ec2Instance | undefined {
    this.#sweep();
    const stored = this.#instances.get(instanceId);
    return stored ? this.#snapshot(stored) : undefined;
  }

  /** Forces an instance into `state` now (e.g. `stopped`), as if EC2 had moved it. */
  setState(instanceId: string, state: InstanceStateName): void {
    this.#sweep();
    const stored = this.#instances.get(instanceId);
    if (!stored) throw new Error(`setState: no instance ${instanceId}`);
    this.#setState(stored, state, this.#now());
  }

  /** Forgets an instance at once (as if it had long been terminated). */
  removeInstance(instanceId: string): void {
    this.#instances.delete(instanceId);
  }

  /** Fails (or delays) the next matching call(s), e.g. `{ action: 'RunInstances', code: 'RequestLimitExceeded' }`. */
  failNext(fault: QueryFault): void {
    this.#faults.add(fault);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  async answer(request: QueryRequest): Promise<QueryAnswer> {
    const { action, requestId } = request;
    let call: Ec2Call | undefined;
    try {
      if (!action) throw new AwsQueryError('MissingAction', 'The request must contain the parameter Action');
      const principal = this.sts.authenticate(request.raw, request.auth, 'ec2');
      call = this.#callOf(action, principal, request.auth);
      if ('problem' in principal) throw this.#authError(principal);
      if (!ACTIONS.has(action)) {
        throw new AwsQueryError(
          'InvalidAction',
          `The action ${action.slice(0, 64)} is not valid for this web service.`,
        );
      }
      if (principal.kind === 'base' && this.refuseBaseCredentials) {
        throw new AwsQueryError(
          'UnauthorizedOperation',
          `You are not authorized to perform this operation. User: ${principal.arn} is not authorized to perform: ec2:${action} because no identity-based policy allows the ec2:${action} action`,
          403,
        );
      }
      await FaultQueue.apply(this.#faults.take(action));
      this.#sweep();
      const body = this.#dispatch(action as Ec2Action, request.params, principal);
      return {
        status: 200,
        xml: `${XML_DECLARATION}<${action}Response xmlns="${EC2_NS}">${leaf('requestId', requestId)}${body}</${action}Response>`,
      };
    } catch (error) {
      const e =
        error instanceof AwsQueryError
          ? error
          : new AwsQueryError('InternalError', 'An internal error has occurred', 500);
      if (call) call.error = e.code;
      return { status: e.status, xml: this.errorXml(e, requestId) };
    } finally {
      if (call) pushBounded(this.calls, call, this.#maxCalls);
    }
  }

  errorXml(error: AwsQueryError, requestId: string): string {
    return (
      `${XML_DECLARATION}<Response>` +
      node('Errors', node('Error', leaf('Code', error.code), leaf('Message', error.message))) +
      leaf('RequestID', requestId) +
      '</Response>'
    );
  }

  #callOf(
    action: string,
    principal: StsPrincipal | AuthFailure,
    auth: QueryRequest['auth'],
  ): Ec2Call | undefined {
    const at = this.#now();
    if (!('problem' in principal)) {
      const s = principal.kind === 'session' ? principal.session : undefined;
      return {
        action,
        accessKeyId: principal.accessKeyId,
        credential: principal.kind,
        ...(s?.sourceIdentity !== undefined ? { sourceIdentity: s.sourceIdentity } : {}),
        ...(s ? { sessionName: s.sessionName, roleArn: s.roleArn } : {}),
        at,
      };
    }
    if ('problem' in auth) return undefined;
    const s = this.sts.session(auth.accessKeyId);
    return {
      action,
      accessKeyId: auth.accessKeyId,
      credential: s ? 'session' : this.sts.hasCredentials(auth.accessKeyId) ? 'base' : 'unknown',
      ...(s?.sourceIdentity !== undefined ? { sourceIdentity: s.sourceIdentity } : {}),
      ...(s ? { sessionName: s.sessionName, roleArn: s.roleArn } : {}),
      at,
    };
  }

  #authError(failure: AuthFailure): AwsQueryError {
    switch (failure.problem) {
      case 'missing':
        return new AwsQueryError('MissingAuthenticationToken', failure.message, 401);
      case 'incomplete':
        return new AwsQueryError('IncompleteSignature', failure.message, 400);
      case 'unknown-key':
      case 'bad-token':
        return new AwsQueryError(
          'AuthFailure',
          'AWS was not able to validate the provided access credentials',
          401,
        );
      case 'scope':
      case 'signature':
        return new AwsQueryError('SignatureDoesNotMatch', failure.message, 403);
      case 'expired':
        return this.#expiredTokenCode === 'RequestExpired'
          ? new AwsQueryError('RequestExpired', 'Request has expired.', 400)
          : new AwsQueryError('ExpiredToken', failure.message, 400);
    }
  }

  #dispatch(action: Ec2Action, params: QueryParams, principal: StsPrincipal): string {
    switch (action) {
      case 'RunInstances':
        return this.#runInstances(params, principal);
      case 'DescribeInstances':
        return this.#describeInstances(params);
      case 'TerminateInstances':
        return this.#terminateInstances(params);
      case 'CreateTags':
        return this.#createTags(params);
      case 'DescribeLaunchTemplates':
        return this.#describeLaunchTemplates(params);
    }
  }

  // -------------------------------------------------------------------------------------------
  // RunInstances

  #runInstances(params: QueryParams, principal: StsPrincipal): string {
    const clientToken = params.get('ClientToken');
    if (clientToken !== undefined && (clientToken.length > 64 || !/^[\x20-\x7e]*$/.test(clientToken))) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        `Value (${clientToken.slice(0, 80)}) for parameter clientToken is invalid. Length exceeds maximum of 64 ASCII characters`,
      );
    }
    const fingerprint = fingerprintOf(params, ['ClientToken']);
    if (clientToken) {
      const seen = this.#clientTokens.get(clientToken);
      if (seen && seen.fingerprint !== fingerprint) {
        throw new AwsQueryError(
          'IdempotentParameterMismatch',
          'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).',
        );
      }
      const instances = seen?.instanceIds.map((id) => this.#instances.get(id)).filter((i) => i !== undefined);
      if (seen && instances && instances.length > 0)
        return this.#reservationBody(seen.reservationId, instances);
    }

    const template = this.#templateOf(params);
    const imageId = params.get('ImageId') ?? template?.imageId;
    if (!imageId) throw missing('ImageId');
    if (!/^ami-[0-9a-f]{8,17}$/.test(imageId)) {
      throw new AwsQueryError(
        'InvalidAMIID.Malformed',
        `Invalid id: "${imageId.slice(0, 80)}" (expecting "ami-...")`,
      );
    }
    const instanceType = params.get('InstanceType') ?? template?.instanceType ?? 'm1.small';
    if (!INSTANCE_TYPE.test(instanceType) || instanceType.length > 64) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        `Invalid value '${instanceType.slice(0, 80)}' for InstanceType.`,
      );
    }
    const minCount = countParam(params, 'MinCount');
    const maxCount = countParam(params, 'MaxCount');
    if (minCount > maxCount) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        `Value (${maxCount}) for parameter maxCount is invalid. Must be greater than or equal to minCount (${minCount}).`,
      );
    }
    const tags = new Map(Object.entries(template?.tags ?? {}));
    for (const spec of params.structs('TagSpecification')) {
      const type = spec.get('ResourceType');
      if (!type) throw missing('TagSpecification.ResourceType');
      if (
        !['instance', 'volume', 'network-interface', 'spot-instances-request', 'elastic-gpu'].includes(type)
      ) {
        throw new AwsQueryError(
          'InvalidParameterValue',
          `'${type.slice(0, 80)}' is not a valid taggable resource type for this operation.`,
        );
      }
      const specTags = parseTags(spec, 'Tag');
      if (type === 'instance') for (const [k, v] of specTags) tags.set(k, v);
    }
    checkTagCount(tags);
    const metadata = metadataOf(params.struct('MetadataOptions'), template?.httpTokens);
    const keyName = params.get('KeyName') ?? template?.keyName;
    const subnetId = params.get('SubnetId') ?? template?.subnetId ?? this.#subnetId;
    if (params.get('DryRun') === 'true') throw dryRun();

    const wanted = Math.min(maxCount, MAX_PER_RUN);
    const left = this.#capacityFor(wanted);
    const count = Math.min(wanted, left);
    if (count < minCount) {
      throw new AwsQueryError(
        'InstanceLimitExceeded',
        `You have requested more instances (${minCount}) than your current instance limit of ${Math.min(left, MAX_PER_RUN)} allows for the specified instance type. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
      );
    }
    if (template) {
      tags.set('aws:ec2launchtemplate:id', template.id);
      tags.set('aws:ec2launchtemplate:version', String(template.version));
    }
    const s = principal.kind === 'session' ? principal.session : undefined;
    const launchedBy = {
      accessKeyId: principal.accessKeyId,
      ...(s?.sourceIdentity !== undefined ? { sourceIdentity: s.sourceIdentity } : {}),
      ...(s ? { roleArn: s.roleArn, sessionName: s.sessionName } : {}),
    };
    const reservationId = `r-${hex(17)}`;
    const now = this.#now();
    const launched: StoredInstance[] = [];
    for (let i = 0; i < count; i++) {
      const stored = this.#newInstance({
        id: this.#newInstanceId(),
        reservationId,
        imageId,
        instanceType,
        launchTime: now,
        tags: new Map(tags),
        keyName,
        clientToken,
        subnetId,
        metadata: { ...metadata },
        launchTemplate: template
          ? { id: template.id, name: template.name, version: template.version }
          : undefined,
        launchedBy: { ...launchedBy },
        amiLaunchIndex: i,
      });
      stored.visibleAt = now + this.describeLagMs;
      this.#setState(stored, 'pending', now);
      launched.push(stored);
    }
    if (clientToken) {
      if (this.#clientTokens.size >= this.#maxInstances) {
        this.#clientTokens.delete(this.#clientTokens.keys().next().value as string);
      }
      this.#clientTokens.set(clientToken, {
        fingerprint,
        reservationId,
        instanceIds: launched.map((i) => i.id),
      });
    }
    return this.#reservationBody(reservationId, launched);
  }

  #reservationBody(reservationId: string, instances: StoredInstance[]): string {
    return (
      leaf('reservationId', reservationId) +
      leaf('ownerId', this.ownerId) +
      node('groupSet') +
      itemSet(
        'instancesSet',
        instances.map((i) => this.#instanceXml(i)),
      )
    );
  }

  #templateOf(params: QueryParams): Ec2LaunchTemplate | undefined {
    const spec = params.struct('LaunchTemplate');
    if (spec.size === 0) return undefined;
    const id = spec.get('LaunchTemplateId');
    const name = spec.get('LaunchTemplateName');
    if (id && name) {
      throw new AwsQueryError(
        'InvalidParameterCombination',
        'Only one of launchTemplateId or launchTemplateName may be specified.',
      );
    }
    let template: Ec2LaunchTemplate | undefined;
    if (id) {
      template = this.#templates.get(id);
      if (!template && !LAUNCH_TEMPLATE_ID.test(id)) {
        throw new AwsQueryError(
          'InvalidLaunchTemplateId.Malformed',
          `The launch template ID '${id.slice(0, 80)}' is malformed.`,
        );
      }
      if (!template) {
        throw new AwsQueryError(
          'InvalidLaunchTemplateId.NotFound',
          `The specified launch template, with template ID ${id}, does not exist.`,
        );
      }
    } else if (name) {
      template = [...this.#templates.values()].find((t) => t.name === name);
      if (!template) {
        throw new AwsQueryError(
          'InvalidLaunchTemplateName.NotFoundException',
          `The specified launch template, with template name ${name.slice(0, 128)}, does not exist.`,
        );
      }
    } else {
      throw missing('LaunchTemplate.LaunchTemplateId or LaunchTemplate.LaunchTemplateName');
    }
    const version = spec.get('Version');
    if (version !== undefined && !['$Latest', '$Default', String(template.version)].includes(version)) {
      throw new AwsQueryError(
        'InvalidLaunchTemplateId.VersionNotFound',
        `Could not find launch template version ${version.slice(0, 20)} for launch template ${template.id}`,
      );
    }
    return template;
  }

  // -------------------------------------------------------------------------------------------
  // DescribeInstances

  #describeInstances(params: QueryParams): string {
    const ids = params.list('InstanceId');
    const maxText = params.get('MaxResults');
    if (ids.length > 0 && maxText !== undefined) {
      throw new AwsQueryError(
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      );
    }
    if (ids.length > MAX_IDS) {
      throw new AwsQueryError('InvalidParameterValue', `At most ${MAX_IDS} instance ids may be given.`);
    }
    let pageSize = 1_000;
    if (maxText !== undefined) {
      const n = /^\d{1,7}$/.test(maxText) ? Number(maxText) : Number.NaN;
      if (!(n >= 5 && n <= 1_000)) {
        throw new AwsQueryError(
          'InvalidParameterValue',
          `Value ( ${maxText.slice(0, 20)} ) for parameter maxResults is invalid. Expecting a value greater than 5 and at most 1000.`,
        );
      }
      pageSize = n;
    }
    const matches = this.#filterOf(params);
    // A new instance shows only once EC2 has caught up (describeLagMs).
    const now = this.#now();
    const visible = (i: StoredInstance) => i.visibleAt <= now;
    let candidates: StoredInstance[];
    if (ids.length > 0) {
      this.#checkIds(ids, visible);
      const wanted = new Set(ids);
      candidates = [...this.#instances.values()].filter((i) => wanted.has(i.id));
    } else {
      candidates = [...this.#instances.values()].filter(visible);
    }
    const token = params.get('NextToken');
    const after = token === undefined ? 0 : parseNextToken(token);
    const selected = candidates.filter((i) => i.seq > after && matches(i));
    const page = selected.slice(0, pageSize);
    const last = page[page.length - 1];
    const nextToken = selected.length > page.length && last ? nextTokenOf(last.seq) : undefined;

    const reservations: StoredInstance[][] = [];
    for (const instance of page) {
      const group = reservations[reservations.length - 1];
      if (group?.[0]?.reservationId === instance.reservationId) group.push(instance);
      else reservations.push([instance]);
    }
    return (
      itemSet(
        'reservationSet',
        reservations.map((group) => this.#reservationBody((group[0] as StoredInstance).reservationId, group)),
      ) + (nextToken ? leaf('nextToken', nextToken) : '')
    );
  }

  #filterOf(params: QueryParams): (instance: StoredInstance) => boolean {
    const filters = params.structs('Filter');
    if (filters.length > MAX_FILTERS) {
      throw new AwsQueryError('InvalidParameterValue', `At most ${MAX_FILTERS} filters may be given.`);
    }
    const tests = filters.map((filter) => {
      const name = filter.get('Name');
      if (!name) throw missing('Filter.Name');
      const values = filter.list('Value');
      if (values.length === 0 || values.length > MAX_FILTER_VALUES) {
        throw new AwsQueryError(
          'InvalidParameterValue',
          `The filter '${name.slice(0, 128)}' needs 1 to ${MAX_FILTER_VALUES} values.`,
        );
      }
      const patterns = values.map(globToRegExp);
      const any = (text: string | undefined) => text !== undefined && patterns.some((p) => p.test(text));
      if (name.startsWith('tag:')) {
        const key = name.slice(4);
        return (i: StoredInstance) => any(i.tags.get(key));
      }
      const field = FILTER_FIELDS[name];
      if (name === 'tag-key') return (i: StoredInstance) => [...i.tags.keys()].some((k) => any(k));
      if (name === 'tag-value') return (i: StoredInstance) => [...i.tags.values()].some((v) => any(v));
      if (!field)
        throw new AwsQueryError('InvalidParameterValue', `The filter '${name.slice(0, 128)}' is invalid`);
      return (i: StoredInstance) => any(field(i, this));
    });
    return (instance) => tests.every((test) => test(instance));
  }

  #checkIds(ids: string[], visible: (i: StoredInstance) => boolean = () => true): void {
    const malformed = ids.find((id) => !INSTANCE_ID.test(id));
    if (malformed !== undefined) {
      throw new AwsQueryError('InvalidInstanceID.Malformed', `Invalid id: "${malformed.slice(0, 80)}"`);
    }
    const known = (id: string) => {
      const instance = this.#instances.get(id);
      return instance !== undefined && visible(instance);
    };
    const unknown = [...new Set(ids.filter((id) => !known(id)))];
    if (unknown.length === 1) {
      throw new AwsQueryError('InvalidInstanceID.NotFound', `The instance ID '${unknown[0]}' does not exist`);
    }
    if (unknown.length > 1) {
      throw new AwsQueryError(
        'InvalidInstanceID.NotFound',
        `The instance IDs '${unknown.slice(0, 20).join(', ')}' do not exist`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // TerminateInstances, CreateTags, DescribeLaunchTemplates

  #terminateInstances(params: QueryParams): string {
    const ids = params.list('InstanceId');
    if (ids.length === 0) throw new AwsQueryError('InvalidParameterCombination', 'No instances specified');
    if (ids.length > MAX_IDS) {
      throw new AwsQueryError('InvalidParameterValue', `At most ${MAX_IDS} instance ids may be given.`);
    }
    this.#checkIds(ids);
    if (params.get('DryRun') === 'true') throw dryRun();
    const now = this.#now();
    const items: string[] = [];
    for (const id of [...new Set(ids)]) {
      const instance = this.#instances.get(id) as StoredInstance;
      const previous = instance.state;
      if (previous !== 'shutting-down' && previous !== 'terminated') {
        instance.terminatedAt = now;
        instance.reason = `User initiated (${new Date(now).toISOString().slice(0, 19).replace('T', ' ')} GMT)`;
        instance.stateReason = {
          code: 'Client.UserInitiatedShutdown',
          message: 'Client.UserInitiatedShutdown: User initiated shutdown',
        };
        this.#setState(instance, 'shutting-down', now);
      }
      items.push(
        leaf('instanceId', id) +
          stateXml('currentState', instance.state) +
          stateXml('previousState', previous),
      );
    }
    return itemSet('instancesSet', items);
  }

  #createTags(params: QueryParams): string {
    const ids = params.list('ResourceId');
    if (ids.length === 0) throw missing('ResourceId');
    if (ids.length > MAX_IDS) {
      throw new AwsQueryError('InvalidParameterValue', `At most ${MAX_IDS} resource ids may be given.`);
    }
    const tags = parseTags(params, 'Tag');
    if (tags.size === 0) throw missing('Tag');
    const other = ids.find((id) => !id.startsWith('i-'));
    if (other !== undefined)
      throw new AwsQueryError('InvalidID', `The ID '${other.slice(0, 80)}' is not valid`);
    this.#checkIds(ids);
    for (const id of ids) {
      const merged = new Map((this.#instances.get(id) as StoredInstance).tags);
      for (const [k, v] of tags) merged.set(k, v);
      checkTagCount(merged);
    }
    if (params.get('DryRun') === 'true') throw dryRun();
    for (const id of ids) {
      const instance = this.#instances.get(id) as StoredInstance;
      for (const [k, v] of tags) instance.tags.set(k, v);
    }
    return leaf('return', 'true');
  }

  #describeLaunchTemplates(params: QueryParams): string {
    const ids = params.list('LaunchTemplateId');
    const names = params.list('LaunchTemplateName');
    let templates = [...this.#templates.values()];
    if (ids.length > 0) {
      if (ids.some((id) => !this.#templates.has(id))) {
        throw new AwsQueryError(
          'InvalidLaunchTemplateId.NotFound',
          'At least one of the launch templates specified in the request does not exist.',
        );
      }
      templates = templates.filter((t) => ids.includes(t.id));
    }
    if (names.length > 0) {
      if (names.some((n) => !templates.some((t) => t.name === n))) {
        throw new AwsQueryError(
          'InvalidLaunchTemplateName.NotFoundException',
          'At least one of the launch templates specified in the request does not exist.',
        );
      }
      templates = templates.filter((t) => names.includes(t.name));
    }
    return itemSet(
      'launchTemplates',
      templates.map(
        (t) =>
          leaf('createTime', isoMillis(t.createdAt)) +
          leaf('createdBy', `arn:aws:iam::${this.ownerId}:root`) +
          leaf('defaultVersionNumber', t.version) +
          leaf('latestVersionNumber', t.version) +
          leaf('launchTemplateId', t.id) +
          leaf('launchTemplateName', t.name),
      ),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Instances

  #instanceXml(i: StoredInstance): string {
    const terminated = i.state === 'terminated';
    const az = `${this.#region}a`;
    const dns = terminated ? '' : `ip-${i.privateIp.replaceAll('.', '-')}.${dnsSuffix(this.#region)}`;
    const tags = [...i.tags].map(([key, value]) => leaf('key', key) + leaf('value', value));
    return (
      leaf('instanceId', i.id) +
      leaf('imageId', i.imageId) +
      stateXml('instanceState', i.state) +
      leaf('privateDnsName', dns) +
      leaf('dnsName', '') +
      leaf('reason', i.reason) +
      leaf('keyName', i.keyName) +
      leaf('amiLaunchIndex', i.amiLaunchIndex) +
      node('productCodes') +
      leaf('instanceType', i.instanceType) +
      leaf('launchTime', isoMillis(i.launchTime)) +
      node('placement', leaf('availabilityZone', az), leaf('groupName', ''), leaf('tenancy', 'default')) +
      node('monitoring', leaf('state', 'disabled')) +
      (terminated
        ? ''
        : leaf('subnetId', i.subnetId) + leaf('vpcId', i.vpcId) + leaf('privateIpAddress', i.privateIp)) +
      leaf('sourceDestCheck', true) +
      node('groupSet') +
      (i.stateReason
        ? node('stateReason', leaf('code', i.stateReason.code), leaf('message', i.stateReason.message))
        : '') +
      leaf('architecture', 'x86_64') +
      leaf('rootDeviceType', 'ebs') +
      leaf('rootDeviceName', '/dev/xvda') +
      node('blockDeviceMapping') +
      leaf('virtualizationType', 'hvm') +
      leaf('clientToken', i.clientToken) +
      (tags.length > 0 ? itemSet('tagSet', tags) : '') +
      leaf('hypervisor', 'xen') +
      node('networkInterfaceSet') +
      leaf('ebsOptimized', false) +
      leaf('enaSupport', true) +
      node('hibernationOptions', leaf('configured', false)) +
      node('enclaveOptions', leaf('enabled', false)) +
      node(
        'metadataOptions',
        leaf('state', i.state === 'pending' ? 'pending' : 'applied'),
        leaf('httpTokens', i.metadata.httpTokens),
        leaf('httpPutResponseHopLimit', i.metadata.httpPutResponseHopLimit),
        leaf('httpEndpoint', i.metadata.httpEndpoint),
        leaf('httpProtocolIpv6', i.metadata.httpProtocolIpv6),
        leaf('instanceMetadataTags', i.metadata.instanceMetadataTags),
      ) +
      leaf('platformDetails', 'Linux/UNIX') +
      leaf('usageOperation', 'RunInstances') +
      leaf('usageOperationUpdateTime', isoMillis(i.launchTime))
    );
  }

  #newInstance(init: {
    id: string;
    reservationId: string;
    imageId: string;
    instanceType: string;
    launchTime: number;
    tags: Map<string, string>;
    keyName: string | undefined;
    clientToken: string | undefined;
    subnetId: string;
    metadata: Ec2MetadataOptions;
    launchTemplate: StoredInstance['launchTemplate'];
    launchedBy: StoredInstance['launchedBy'];
    amiLaunchIndex: number;
  }): StoredInstance {
    const stored: StoredInstance = {
      ...init,
      seq: ++this.#seq,
      state: 'pending',
      since: init.launchTime,
      visibleAt: init.launchTime,
      privateIp: this.#nextIp(),
      vpcId: this.#vpcId,
      reason: '',
      stateReason: undefined,
      terminatedAt: undefined,
    };
    this.#instances.set(stored.id, stored);
    return stored;
  }

  #setState(instance: StoredInstance, state: InstanceStateName, now: number): void {
    instance.state = state;
    instance.since = now;
    if (state === 'terminated' || state === 'shutting-down') instance.terminatedAt ??= now;
  }

  /** Moves every instance along its timeline to now, and forgets those terminated long enough. */
  #sweep(): void {
    const now = this.#now();
    for (const instance of this.#instances.values()) {
      if (instance.state === 'pending' && now >= instance.since + this.pendingMs) {
        this.#setState(instance, 'running', instance.since + this.pendingMs);
      }
      if (instance.state === 'stopping' && now >= instance.since + this.shuttingDownMs) {
        this.#setState(instance, 'stopped', instance.since + this.shuttingDownMs);
      }
      if (instance.state === 'shutting-down' && now >= instance.since + this.shuttingDownMs) {
        this.#setState(instance, 'terminated', instance.since + this.shuttingDownMs);
      }
      if (instance.state === 'terminated' && now >= instance.since + this.terminatedVisibleMs) {
        this.#forget(instance);
      }
    }
  }

  #forget(instance: StoredInstance): void {
    this.#instances.delete(instance.id);
    if (instance.clientToken) {
      const entry = this.#clientTokens.get(instance.clientToken);
      if (entry?.instanceIds.every((id) => !this.#instances.has(id))) {
        this.#clientTokens.delete(instance.clientToken);
      }
    }
  }

  /** Room for up to `wanted` more instances, forgetting terminated ones early if that makes room. */
  #capacityFor(wanted: number): number {
    const needed = wanted - (this.#maxInstances - this.#instances.size);
    if (needed > 0) this.#evictTerminated(needed);
    return Math.max(0, this.#maxInstances - this.#instances.size);
  }

  /** Forgets up to `n` terminated instances early (oldest first), to make room. */
  #evictTerminated(n: number): void {
    let left = n;
    for (const instance of [...this.#instances.values()]) {
      if (left <= 0) break;
      if (instance.state === 'terminated') {
        this.#forget(instance);
        left -= 1;
      }
    }
  }

  #newInstanceId(): string {
    for (;;) {
      const id = `i-${hex(17)}`;
      if (!this.#instances.has(id)) return id;
    }
  }

  #nextIp(): string {
    const n = this.#ipCounter++ % (250 * 256);
    return `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`;
  }

  #snapshot(i: StoredInstance): Ec2Instance {
    return {
      instanceId: i.id,
      reservationId: i.reservationId,
      ownerId: this.ownerId,
      imageId: i.imageId,
      instanceType: i.instanceType,
      state: i.state,
      stateCode: INSTANCE_STATE_CODES[i.state],
      privateIpAddress: i.privateIp,
      subnetId: i.subnetId,
      vpcId: i.vpcId,
      availabilityZone: `${this.#region}a`,
      launchTime: i.launchTime,
      tags: Object.fromEntries(i.tags),
      clientToken: i.clientToken,
      keyName: i.keyName,
      metadataOptions: { ...i.metadata },
      launchTemplate: i.launchTemplate ? { ...i.launchTemplate } : undefined,
      launchedBy: i.launchedBy ? { ...i.launchedBy } : undefined,
      terminatedAt: i.terminatedAt,
    };
  }
}

export interface SimulatedAwsOptions
  extends StsOptions,
    Omit<Ec2Options, 'sts' | 'now' | 'accountId' | 'maxCalls'> {}

/**
 * The simulated STS and EC2 on one port, dispatched on the SigV4 credential scope's service
 * (`…/sts/aws4_request` or `…/ec2/aws4_request`): point both SDK clients' `endpoint` at `url`.
 *
 * @example
 * const aws = new SimulatedAws({ now: () => clock.now() });
 * const { url } = await aws.start();
 * aws.sts.addCredentials('AKIDTASKROLE', 'task-secret');
 * aws.sts.addRole(roleArn, { trust: (caller) => caller.endsWith(':user/opsbot') });
 * aws.ec2.addLaunchTemplate({ name: 'opsbot-dev' });
 */
export class SimulatedAws {
  readonly sts: SimulatedSts;
  readonly ec2: SimulatedEc2;
  readonly #server: QueryServer;

  constructor(options: SimulatedAwsOptions = {}) {
    const { now, accountId, maxSessions, maxCalls, ...ec2 } = options;
    this.sts = new SimulatedSts({
      ...(now ? { now } : {}),
      ...(accountId ? { accountId } : {}),
      ...(maxSessions !== undefined ? { maxSessions } : {}),
      ...(maxCalls !== undefined ? { maxCalls } : {}),
    });
    this.ec2 = new SimulatedEc2({ ...ec2, sts: this.sts, ...(maxCalls !== undefined ? { maxCalls } : {}) });
    this.#server = new QueryServer([this.sts, this.ec2]);
  }

  start(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    return this.#server.start(port, host);
  }

  stop(): Promise<void> {
    return this.#server.stop();
  }

  get url(): string {
    return this.#server.url;
  }
}

// ---------------------------------------------------------------------------------------------

const FILTER_FIELDS: Record<string, (i: StoredInstance, ec2: SimulatedEc2) => string | undefined> = {
  'instance-state-name': (i) => i.state,
  'instance-state-code': (i) => String(INSTANCE_STATE_CODES[i.state]),
  'instance-id': (i) => i.id,
  'instance-type': (i) => i.instanceType,
  'image-id': (i) => i.imageId,
  'private-ip-address': (i) => (i.state === 'terminated' ? undefined : i.privateIp),
  'reservation-id': (i) => i.reservationId,
  'key-name': (i) => i.keyName,
  'client-token': (i) => i.clientToken,
  'subnet-id': (i) => i.subnetId,
  'vpc-id': (i) => i.vpcId,
  'owner-id': (_i, ec2) => ec2.ownerId,
  'metadata-options.http-tokens': (i) => i.metadata.httpTokens,
  'metadata-options.http-endpoint': (i) => i.metadata.httpEndpoint,
};

function stateXml(name: string, state: InstanceStateName): string {
  return node(name, leaf('code', INSTANCE_STATE_CODES[state]), leaf('name', state));
}

function parseTags(params: QueryParams, prefix: string): Map<string, string> {
  const tags = new Map<string, string>();
  const entries = params.structs(prefix);
  if (entries.length > MAX_TAGS) {
    throw new AwsQueryError('TagLimitExceeded', `The maximum number of tags per resource is ${MAX_TAGS}.`);
  }
  for (const entry of entries) {
    const key = entry.get('Key');
    const value = entry.get('Value') ?? '';
    if (key === undefined || key.length === 0)
      throw new AwsQueryError('InvalidParameterValue', 'Tag key cannot be empty');
    if (key.length > 128) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        'Tag key exceeds the maximum length of 128 characters',
      );
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        "Tag keys starting with 'aws:' are reserved for internal use",
      );
    }
    if (value.length > 256) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        'Tag value exceeds the maximum length of 256 characters',
      );
    }
    if (tags.has(key))
      throw new AwsQueryError('InvalidParameterValue', `Duplicate tag key '${key.slice(0, 128)}' specified.`);
    tags.set(key, value);
  }
  return tags;
}

function checkTagCount(tags: Map<string, string>): void {
  const own = [...tags.keys()].filter((k) => !k.startsWith('aws:')).length;
  if (own > MAX_TAGS) {
    throw new AwsQueryError('TagLimitExceeded', `The maximum number of tags per resource is ${MAX_TAGS}.`);
  }
}

function metadataOf(
  spec: QueryParams,
  templateTokens: 'optional' | 'required' | undefined,
): Ec2MetadataOptions {
  const metadata = defaultMetadata(templateTokens);
  const oneOf = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const value = spec.get(name);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        `The value '${value.slice(0, 40)}' is not valid for the ${name} parameter. Supported values: ${allowed.join(' | ')}`,
      );
    }
    return value as T;
  };
  metadata.httpTokens = oneOf('HttpTokens', ['optional', 'required'] as const) ?? metadata.httpTokens;
  metadata.httpEndpoint = oneOf('HttpEndpoint', ['enabled', 'disabled'] as const) ?? metadata.httpEndpoint;
  metadata.httpProtocolIpv6 =
    oneOf('HttpProtocolIpv6', ['enabled', 'disabled'] as const) ?? metadata.httpProtocolIpv6;
  metadata.instanceMetadataTags =
    oneOf('InstanceMetadataTags', ['enabled', 'disabled'] as const) ?? metadata.instanceMetadataTags;
  const hops = spec.get('HttpPutResponseHopLimit');
  if (hops !== undefined) {
    const n = /^\d{1,3}$/.test(hops) ? Number(hops) : Number.NaN;
    if (!(n >= 1 && n <= 64)) {
      throw new AwsQueryError(
        'InvalidParameterValue',
        `The value '${hops.slice(0, 20)}' is not valid for the HttpPutResponseHopLimit parameter. Supported values: 1 to 64`,
      );
    }
    metadata.httpPutResponseHopLimit = n;
  }
  return metadata;
}

function defaultMetadata(httpTokens: 'optional' | 'required' | undefined): Ec2MetadataOptions {
  return {
    httpTokens: httpTokens ?? 'optional',
    httpEndpoint: 'enabled',
    httpPutResponseHopLimit: 1,
    httpProtocolIpv6: 'disabled',
    instanceMetadataTags: 'disabled',
  };
}

function countParam(params: QueryParams, name: 'MinCount' | 'MaxCount'): number {
  const text = params.get(name);
  if (text === undefined) throw missing(name);
  const n = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1)) {
    throw new AwsQueryError(
      'InvalidParameterValue',
      `Value (${text.slice(0, 20)}) for parameter ${name[0]?.toLowerCase()}${name.slice(1)} is invalid. Expected a positive integer.`,
    );
  }
  return n;
}

/** Every parameter but `skip`, in a stable order: what must repeat for a ClientToken to be idempotent. */
function fingerprintOf(params: QueryParams, skip: string[]): string {
  const entries = [...params.entries()].filter(([k]) => !skip.includes(k));
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify(entries);
}

function nextTokenOf(seq: number): string {
  return Buffer.from(`ec2-sim-page:${seq}`, 'utf8').toString('base64url');
}

function parseNextToken(token: string): number {
  const text = /^[\w-]{1,200}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const m = /^ec2-sim-page:(\d{1,12})$/.exec(text);
  if (!m)
    throw new AwsQueryError(
      'InvalidParameterValue',
      `The value of nextToken is not valid: ${token.slice(0, 40)}`,
    );
  return Number(m[1]);
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i] as string);
    else if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function missing(name: string): AwsQueryError {
  return new AwsQueryError('MissingParameter', `The request must contain the parameter ${name}`);
}

function dryRun(): AwsQueryError {
  return new AwsQueryError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
}

function isoMillis(ms: number): string {
  return new Date(Math.floor(ms / 1_000) * 1_000).toISOString();
}

function dnsSuffix(region: string): string {
  return region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
}

function hex(n: number): string {
  return randomBytes(Math.ceil(n / 2))
    .toString('hex')
    .slice(0, n);
}
