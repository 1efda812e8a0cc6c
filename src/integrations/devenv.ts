import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  EC2Client,
  type Instance,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { UserFacingError } from '../errors.js';
import type { RequestScope } from '../request-scope.js';
import { assumedRoleIntegration, type SessionActor, type SessionCalls } from './integration.js';

declare module './integration.js' {
  interface IntegrationApis {
    devenv: DevenvApi;
  }
}

/** The tags every instance opsbot starts carries from creation (CONTRACT.md, "Dev environments"). */
export const TAG = {
  managedBy: 'ManagedBy',
  owner: 'Owner',
  expiresAt: 'ExpiresAt',
  name: 'Name',
  /** Not in the contract: which template it came from (for `extend`'s maximum). */
  template: 'opsbot:template',
  /** Not in the contract: the channel it was started from (DM buttons are judged there). */
  channel: 'opsbot:channel',
} as const;
export const MANAGED_BY = 'opsbot';

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
  /** Dev environments opsbot manages that are not terminated, optionally one owner's; at most MAX_PAGES pages. */
  list(who: SessionActor, filter: { owner?: string }, scope?: RequestScope): Promise<DevEnv[]>;
  /** One instance by id, managed by opsbot or not (undefined: no such instance). */
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
    tagsValid: validOwner && Number.isFinite(expiresAt),
  };
}

/** `2026-11-28T18:00:00Z`: ExpiresAt as the contract writes it (whole seconds, UTC). */
export function expiresTag(ms: number): string {
  return `${new Date(Math.floor(ms / 1_000) * 1_000).toISOString().slice(0, 19)}Z`;
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
  createApi: (calls) => createDevenvApi(calls),
});

export function createDevenvApi(calls: SessionCalls<EC2Client>): DevenvApi {
  let count = 0;
  // biome-ignore lint/suspicious/noExplicitAny: each EC2 command has its own input/output types
  const send = <T>(client: EC2Client, command: any): Promise<T> => {
    count++;
    return client.send(command) as Promise<T>;
  };
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
  const managedFilter = (owner?: string) => ({
    Filters: [
      { Name: `tag:${TAG.managedBy}`, Values: [MANAGED_BY] },
      { Name: 'instance-state-name', Values: LIVE },
      ...(owner ? [{ Name: `tag:${TAG.owner}`, Values: [owner] }] : []),
    ],
  });

  return {
    get calls() {
      return count;
    },
    launch: (who, r, scope) =>
      calls.asUser(
        who,
        async (client) => {
          const template = r.launchTemplate.startsWith('lt-')
            ? { LaunchTemplateId: r.launchTemplate }
            : { LaunchTemplateName: r.launchTemplate };
          const out = await send<{ Instances?: Instance[] }>(
            client,
            new RunInstancesCommand({
              LaunchTemplate: template,
              InstanceType: r.instanceType as never,
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
      ),
    list: (who, filter, scope) =>
      calls.asUser(
        who,
        async (client) => {
          const all: DevEnv[] = [];
          for await (const page of pages(client, managedFilter(filter.owner))) all.push(...page);
          return all;
        },
        scope,
      ),
    get: (who, id, scope) =>
      calls.asUser(
        who,
        async (client) => {
          try {
            const out = await send<{ Reservations?: Array<{ Instances?: Instance[] }> }>(
              client,
              new DescribeInstancesCommand({ InstanceIds: [id] }),
            );
            const instance = out.Reservations?.[0]?.Instances?.[0];
            if (!instance) return undefined;
            return { ...toDevEnv(instance), managed: tagOf(instance, TAG.managedBy) === MANAGED_BY };
          } catch (error) {
            if ((error as { name?: string }).name === 'InvalidInstanceID.NotFound') return undefined;
            throw error;
          }
        },
        scope,
      ),
    setExpiry: (who, id, expiresAt, scope) =>
      calls.asUser(
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
      ),
    terminate: (who, id, scope) =>
      calls.asUser(
        who,
        async (client) => {
          await send(client, new TerminateInstancesCommand({ InstanceIds: [id] }));
        },
        scope,
      ),
    reaperList: () =>
      // One session for the whole pass; each page is read under it.
      calls.asService('reaper', async (client) => {
        const all: Array<DevEnv & { tagsValid: boolean }> = [];
        for await (const page of pages(client, managedFilter())) all.push(...page);
        return all;
      }),
    reaperTerminate: (ids) =>
      calls.asService('reaper', async (client) => {
        for (let i = 0; i < ids.length; i += 50)
          await send(client, new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 50) }));
      }),
  };
}
