import {
  _InstanceType,
  CreateTagsCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  DescribeLaunchTemplatesCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ec2ErrorCode, rethrowEc2 } from '../devenv/ec2-errors.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import type { RequestScope } from '../request-scope.js';
import { inlineCode } from '../text/escape.js';
import { devenvConfig } from './devenv-config.js';
import { assumedRoleIntegration, type SessionActor, type SessionCalls } from './integration.js';

declare module './integration.js' {
  interface IntegrationApis {
    devenv: DevenvApi;
  }
}

/** The tags every instance opsbot starts carries from creation (README.md, "Dev environments"). */
export const TAG = {
  managedBy: 'ManagedBy',
  owner: 'Owner',
  expiresAt: 'ExpiresAt',
  name: 'Name',
  /** Which template it came from (for `extend`'s maximum). */
  template: 'opsbot:template',
  /** The channel it was started from (DM buttons are judged there). */
  channel: 'opsbot:channel',
} as const;
export const MANAGED_BY = 'opsbot';
/**
 * The tag EC2 itself puts on an instance launched from a launch template (its id). No principal can
 * set or change an `aws:` tag, so it is what makes an instance opsbot's: `ManagedBy=opsbot` alone
 * can be set by anyone allowed to tag.
 */
export const LAUNCH_TEMPLATE_TAG = 'aws:ec2launchtemplate:id';

/** A dev environment as its EC2 tags and state describe it. */
export interface DevEnv {
  id: string;
  name: string;
  /** The Slack user id in `Owner`, when it is one. */
  owner?: string;
  /** `ExpiresAt`, when it is a valid time. */
  expiresAt?: number;
  template?: string;
  /** The channel `/devenv up` ran in. */
  channel?: string;
  state: string;
  privateIp?: string;
  instanceType?: string;
  launchedAt?: number;
  /** The launch template EC2 says it came from (`aws:ec2launchtemplate:id`). */
  launchTemplateId?: string;
}

export interface LaunchRequest {
  launchTemplate: string;
  instanceType: string;
  template: string;
  name: string;
  owner: string;
  channel: string;
  expiresAt: number;
  /** At most 64 ASCII characters; the same token never starts a second instance. */
  clientToken: string;
}

/** Where a page of a listing ends, and how many pages may be read. */
export const PAGE_SIZE = 200;
export const MAX_PAGES = 50;

export interface DevenvApi {
  launch(who: SessionActor, request: LaunchRequest, scope?: RequestScope): Promise<DevEnv>;
  /**
   * Dev environments opsbot manages (tagged `ManagedBy=opsbot` and launched from a configured launch
   * template, as EC2's own `aws:ec2launchtemplate:id` tag says) that are not terminated, optionally
   * one owner's; at most MAX_PAGES pages.
   */
  list(who: SessionActor, filter: { owner?: string }, scope?: RequestScope): Promise<DevEnv[]>;
  /** One instance by id, managed by opsbot (as `list` means it) or not (undefined: no such instance). */
  get(
    who: SessionActor,
    id: string,
    scope?: RequestScope,
  ): Promise<(DevEnv & { managed: boolean }) | undefined>;
  setExpiry(who: SessionActor, id: string, expiresAt: number, scope?: RequestScope): Promise<void>;
  terminate(who: SessionActor, id: string, scope?: RequestScope): Promise<void>;
  /** The reaper's view: every managed instance (at most MAX_PAGES pages), as opsbot's own session (`opsbot.reaper`). */
  reaperList(): Promise<Array<DevEnv & { tagsValid: boolean }>>;
  /** Terminates expired instances as the reaper (at most 50 per call). */
  reaperTerminate(ids: string[]): Promise<void>;
  /** EC2 calls made (for the benchmark). */
  readonly calls: number;
}

const SLACK_USER = /^[UW][A-Z0-9]{2,20}$/;

function tagOf(instance: Instance, key: string): string | undefined {
  return instance.Tags?.find((t) => t.Key === key)?.Value;
}

export function toDevEnv(instance: Instance): DevEnv & { tagsValid: boolean } {
  const owner = tagOf(instance, TAG.owner);
  const expires = tagOf(instance, TAG.expiresAt);
  const expiresAt =
    expires && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z$/.test(expires)
      ? Date.parse(expires)
      : Number.NaN;
  const template = tagOf(instance, TAG.template);
  const channel = tagOf(instance, TAG.channel);
  const validOwner = owner !== undefined && SLACK_USER.test(owner);
  return {
    id: instance.InstanceId ?? '',
    name: tagOf(instance, TAG.name) ?? instance.InstanceId ?? '',
    ...(validOwner ? { owner } : {}),
    ...(Number.isFinite(expiresAt) ? { expiresAt } : {}),
    ...(template ? { template } : {}),
    ...(channel && /^[CG][A-Z0-9]{2,20}$/.test(channel) ? { channel } : {}),
    state: instance.State?.Name ?? 'unknown',
    ...(instance.PrivateIpAddress ? { privateIp: instance.PrivateIpAddress } : {}),
    ...(instance.InstanceType ? { instanceType: String(instance.InstanceType) } : {}),
    ...(instance.LaunchTime ? { launchedAt: instance.LaunchTime.getTime() } : {}),
    ...(tagOf(instance, LAUNCH_TEMPLATE_TAG)
      ? { launchTemplateId: tagOf(instance, LAUNCH_TEMPLATE_TAG) }
      : {}),
    tagsValid: validOwner && Number.isFinite(expiresAt),
  };
}

/** `2026-11-28T18:00:00Z`: ExpiresAt as opsbot writes it (whole seconds, UTC). */
export function expiresTag(ms: number): string {
  return `${new Date(Math.floor(ms / 1_000) * 1_000).toISOString().slice(0, 19)}Z`;
}

/** Every instance type this AWS SDK knows, made at the first launch (not at module load). */
let instanceTypes: ReadonlySet<string> | undefined;

/** Whether `value` is an EC2 instance type the SDK knows (`t3.medium`): what RunInstances takes. */
export function isInstanceType(value: string): value is _InstanceType {
  instanceTypes ??= new Set<string>(Object.values(_InstanceType));
  return instanceTypes.has(value);
}

/** The launch's instance type as EC2's SDK types it; one it does not know is the template's mistake. */
function knownInstanceType(r: Pick<LaunchRequest, 'instanceType' | 'template'>): _InstanceType {
  if (isInstanceType(r.instanceType)) return r.instanceType;
  throw new UserFacingError(
    `The template ${inlineCode(r.template)} names ${inlineCode(r.instanceType)}, which is not an EC2 instance type opsbot knows. Ask an opsbot admin to correct its \`instanceType\` in the configuration file (\`devenv.templates\`).`,
    { code: ErrorCode.ConfigInvalid },
  );
}

const LIVE = ['pending', 'running', 'stopping', 'stopped'];
const AUTH_FAILURES = new Set(['ExpiredToken', 'RequestExpired', 'AuthFailure', 'InvalidClientTokenId']);

/**
 * Dev environments on EC2, always as someone: each call runs under an STS session assumed into
 * `devenv.roleArn` for the Slack user who asked (SourceIdentity `slack.<team>.<user>`), or for
 * the reaper (`opsbot.reaper`). Never with the task role's own credentials.
 */
export const devenv = assumedRoleIntegration({
  kind: 'assumed-role',
  name: 'devenv',
  title: 'Dev environments (AWS EC2)',
  config: devenvConfig,
  roleArn: (deps) => deps.config.file.devenv.roleArn,
  createClient: (session, deps) => {
    const { endpoint, requestTimeoutMs } = deps.awsClients?.ec2 ?? {};
    return new EC2Client({
      ...(deps.config.aws.region ? { region: deps.config.aws.region } : {}),
      ...(endpoint ? { endpoint } : {}),
      credentials: session.credentials,
      // A call that hangs is abandoned and retried (RunInstances with the same ClientToken).
      maxAttempts: 3,
      requestHandler: {
        requestTimeout: requestTimeoutMs ?? 10_000,
        connectionTimeout: 2_000,
        throwOnRequestTimeout: true,
      },
    });
  },
  closeClient: (client) => client.destroy(),
  isAuthFailure: (error) => AUTH_FAILURES.has((error as { name?: string } | undefined)?.name ?? ''),
  createApi: (calls, deps) =>
    createDevenvApi(calls, {
      launchTemplates: () => Object.values(deps.config.file.devenv.templates).map((t) => t.launchTemplate),
      now: () => deps.clock.now(),
    }),
});
export interface DevenvApiOptions {
  /**
   * The configured templates' launch templates (`devenv.templates.*.launchTemplate`, ids `lt-…` or
   * names): only instances EC2 tagged as launched from one of them (`aws:ec2launchtemplate:id`)
   * are opsbot's. Names are resolved to ids with DescribeLaunchTemplates.
   */
  launchTemplates: () => readonly string[];
  /** For how long a name's id is remembered. Default Date.now. */
  now?: () => number;
}

/** How long a launch template name's id is remembered (found), or its absence (not found). */
const RESOLVED_MS = 10 * 60_000;
const UNKNOWN_MS = 60_000;
const TEMPLATE_NOT_FOUND = new Set([
  'InvalidLaunchTemplateName.NotFoundException',
  'InvalidLaunchTemplateId.NotFound',
]);

export function createDevenvApi(calls: SessionCalls<EC2Client>, options: DevenvApiOptions): DevenvApi {
  let count = 0;
  const now = options.now ?? Date.now;
  // biome-ignore lint/suspicious/noExplicitAny: each EC2 command has its own input/output types
  const send = <T>(client: EC2Client, command: any): Promise<T> => {
    count++;
    return client.send(command) as Promise<T>;
  };
  const names = new Map<string, { id: string | undefined; until: number }>();

  /** The ids of the configured launch templates that exist (a name AWS does not know trusts nothing). */
  async function trustedIds(client: EC2Client): Promise<string[]> {
    const ids = new Set<string>();
    for (const template of new Set(options.launchTemplates())) {
      if (template.startsWith('lt-')) {
        ids.add(template);
        continue;
      }
      let known = names.get(template);
      if (!known || known.until <= now()) {
        const id = await launchTemplateId(client, template);
        known = { id, until: now() + (id ? RESOLVED_MS : UNKNOWN_MS) };
        names.set(template, known);
      }
      if (known.id) ids.add(known.id);
    }
    return [...ids];
  }
  async function launchTemplateId(client: EC2Client, name: string): Promise<string | undefined> {
    try {
      const out = await send<{ LaunchTemplates?: Array<{ LaunchTemplateId?: string }> }>(
        client,
        new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] }),
      );
      return out.LaunchTemplates?.[0]?.LaunchTemplateId;
    } catch (error) {
      if (TEMPLATE_NOT_FOUND.has(ec2ErrorCode(error) ?? '')) return undefined;
      throw error;
    }
  }

  async function* pages(
    client: EC2Client,
    input: DescribeInstancesCommandInput,
  ): AsyncGenerator<Array<DevEnv & { tagsValid: boolean }>> {
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await send<{ Reservations?: Array<{ Instances?: Instance[] }>; NextToken?: string }>(
        client,
        new DescribeInstancesCommand({
          ...input,
          MaxResults: PAGE_SIZE,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      yield (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map(toDevEnv);
      token = out.NextToken;
      if (!token) return;
    }
  }
  /** Every live instance opsbot manages (optionally one owner's): tagged ManagedBy=opsbot by a trusted launch. */
  async function managed(client: EC2Client, owner?: string): Promise<Array<DevEnv & { tagsValid: boolean }>> {
    const ids = await trustedIds(client);
    if (ids.length === 0) return [];
    const all: Array<DevEnv & { tagsValid: boolean }> = [];
    const filter = {
      Filters: [
        { Name: `tag:${TAG.managedBy}`, Values: [MANAGED_BY] },
        { Name: `tag:${LAUNCH_TEMPLATE_TAG}`, Values: ids },
        { Name: 'instance-state-name', Values: LIVE },
        ...(owner ? [{ Name: `tag:${TAG.owner}`, Values: [owner] }] : []),
      ],
    };
    for await (const page of pages(client, filter))
      all.push(...page.filter((e) => e.launchTemplateId !== undefined && ids.includes(e.launchTemplateId)));
    return all;
  }

  return {
    get calls() {
      return count;
    },
    launch: async (who, r, scope) => {
      const instanceType = knownInstanceType(r);
      return calls
        .asUser(
          who,
          async (client) => {
            const template = r.launchTemplate.startsWith('lt-')
              ? { LaunchTemplateId: r.launchTemplate }
              : { LaunchTemplateName: r.launchTemplate };
            const out = await send<{ Instances?: Instance[] }>(
              client,
              new RunInstancesCommand({
                LaunchTemplate: template,
                InstanceType: instanceType,
                MinCount: 1,
                MaxCount: 1,
                ClientToken: r.clientToken,
                MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
                TagSpecifications: [
                  {
                    ResourceType: 'instance',
                    Tags: [
                      { Key: TAG.managedBy, Value: MANAGED_BY },
                      { Key: TAG.owner, Value: r.owner },
                      { Key: TAG.expiresAt, Value: expiresTag(r.expiresAt) },
                      { Key: TAG.name, Value: r.name },
                      { Key: TAG.template, Value: r.template },
                      ...(r.channel ? [{ Key: TAG.channel, Value: r.channel }] : []),
                    ],
                  },
                ],
              }),
            );
            const instance = out.Instances?.[0];
            if (!instance?.InstanceId)
              throw new UserFacingError('AWS did not start an instance. Try again in a minute.');
            return toDevEnv(instance);
          },
          scope,
        )
        .catch((error: unknown) => rethrowEc2(error, { template: r.template, instanceType: r.instanceType }));
    },
    list: (who, filter, scope) => calls.asUser(who, (client) => managed(client, filter.owner), scope),
    get: (who, id, scope) =>
      calls
        .asUser(
          who,
          async (client) => {
            try {
              const out = await send<{ Reservations?: Array<{ Instances?: Instance[] }> }>(
                client,
                new DescribeInstancesCommand({ InstanceIds: [id] }),
              );
              const instance = out.Reservations?.[0]?.Instances?.[0];
              if (!instance) return undefined;
              const env = toDevEnv(instance);
              const trusted =
                env.launchTemplateId !== undefined &&
                (await trustedIds(client)).includes(env.launchTemplateId);
              return { ...env, managed: trusted && tagOf(instance, TAG.managedBy) === MANAGED_BY };
            } catch (error) {
              if (ec2ErrorCode(error) === 'InvalidInstanceID.NotFound') return undefined;
              throw error;
            }
          },
          scope,
        )
        .catch((error: unknown) => rethrowEc2(error, { instance: id })),
    setExpiry: (who, id, expiresAt, scope) =>
      calls
        .asUser(
          who,
          async (client) => {
            await send(
              client,
              new CreateTagsCommand({
                Resources: [id],
                Tags: [{ Key: TAG.expiresAt, Value: expiresTag(expiresAt) }],
              }),
            );
          },
          scope,
        )
        .catch((error: unknown) => rethrowEc2(error, { instance: id })),
    terminate: (who, id, scope) =>
      calls
        .asUser(
          who,
          async (client) => {
            await send(client, new TerminateInstancesCommand({ InstanceIds: [id] }));
          },
          scope,
        )
        .catch((error: unknown) => rethrowEc2(error, { instance: id })),
    reaperList: () =>
      // One session for the whole pass; each page is read under it.
      calls.asService('reaper', (client) => managed(client)),
    reaperTerminate: (ids) =>
      calls.asService('reaper', async (client) => {
        for (let i = 0; i < ids.length; i += 50)
          await send(client, new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 50) }));
      }),
  };
}
