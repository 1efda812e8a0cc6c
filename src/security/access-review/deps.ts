import { closeSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Rule } from '../../access/policy.js';
import type { Clock } from '../../clock.js';
import type { IntegrationKey } from '../../integrations/integration.js';
import type { SlackApi } from '../../integrations/slack-api.js';
import { DATADOG_BOT_SCOPES } from '../../rotation/datadog-scopes.js';
import type { AuditStore } from '../../store/state.js';
import { within } from '../../time/deadline.js';
import type { AccessReviewDeps } from './review.js';

/** Largest configuration file a review reads (the loader's files are far smaller). */
const MAX_CONFIG_BYTES = 1_048_576;

export interface ReviewSources {
  audit: Pick<AuditStore, 'firstSeqSince' | 'readAfter'>;
  access: { admins: readonly string[]; rules: readonly Rule[] };
  slack: Pick<SlackApi, 'usergroupMembers' | 'userInfo'>;
  clock: Pick<Clock, 'now'>;
  /** `config.configPath`; undefined: no diff can be proposed. */
  configPath: string | undefined;
  configured(name: IntegrationKey): boolean;
}

/**
 * What a review reads, from what the command and the scheduled review both have: the trail, the
 * policy, Slack, the configuration file on disk (bounded), and what opsbot's own credentials hold:
 * the Datadog application key's scopes (the ones opsbot's rotation asks for) and the dev-env role.
 * The GitHub App installation's permissions are not read yet: the line says where to see them.
 */
export function reviewDeps(sources: ReviewSources): AccessReviewDeps {
  const path = sources.configPath;
  return {
    audit: sources.audit,
    access: sources.access,
    slack: sources.slack,
    clock: sources.clock,
    configFile: {
      name: path ? basename(path) : 'opsbot.yaml',
      read: () => {
        if (!path) throw new Error('no configuration file');
        return readBounded(path);
      },
    },
    credentials: {
      ...(sources.configured('datadog') ? { datadogScopes: [...DATADOG_BOT_SCOPES] } : {}),
      devenvConfigured: sources.configured('devenv'),
      githubNote: sources.configured('github')
        ? 'compare with the App’s permissions on GitHub (App settings → Permissions & events)'
        : 'GitHub is not configured',
    },
  };
}

function readBounded(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    if (n > MAX_CONFIG_BYTES) throw new Error('the configuration file is larger than 1 MiB');
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** How long the review waits for a vendor to say what opsbot's credential may do. */
const GRANTS_DEADLINE_MS = 5_000;

/**
 * The deps with what GitHub says the App may be granted (`GET /app`), when it can be asked: the
 * review then names the App's permissions no command of the window needed. A failure or a slow
 * answer leaves the note asking the admin to compare by hand.
 */
export async function withVendorGrants(
  deps: AccessReviewDeps,
  grants: ((name: IntegrationKey) => Promise<Readonly<Record<string, string>> | undefined>) | undefined,
  clock: Clock,
): Promise<AccessReviewDeps> {
  if (!grants) return deps;
  const github = await within(
    clock,
    grants('github'),
    GRANTS_DEADLINE_MS,
    () => new Error('GitHub did not answer'),
  ).catch(() => undefined);
  if (!github) return deps;
  const { githubNote: _unused, ...credentials } = deps.credentials;
  return { ...deps, credentials: { ...credentials, github } };
}
