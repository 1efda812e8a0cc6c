/**
 * What opsbot's own credential for each integration may do, against what the window's commands
 * needed: what the bot itself could drop. The tables say what each subcommand (or button) needs.
 */

/** GitHub App permissions each /gh action needs (metadata: read is implied by every other). */
export const GITHUB_NEEDS: Readonly<Record<string, Readonly<Record<string, 'read' | 'write'>>>> = {
  'gh:pr list': { pull_requests: 'read' },
  'gh:pr': { pull_requests: 'read', checks: 'read' },
  'gh:issue': { issues: 'read' },
  'gh:issue create': { issues: 'write' },
  'gh:runs': { actions: 'read' },
  'gh:rerun': { actions: 'write' },
};

/** Datadog application-key scopes each /dd action needs (`/dd alerts` reads opsbot's own State). */
export const DATADOG_NEEDS: Readonly<Record<string, readonly string[]>> = {
  'dd:monitors': ['monitors_read'],
  'dd:monitor': ['monitors_read'],
  'dd:mute': ['monitors_downtime', 'monitors_read'],
  'dd:unmute': ['monitors_downtime', 'monitors_read'],
  'dd:alerts': [],
};

/**
 * EC2 actions each /devenv action needs under the dev-env role. The reaper needs
 * `ec2:DescribeInstances` and `ec2:TerminateInstances` whatever anyone ran.
 */
export const DEVENV_NEEDS: Readonly<Record<string, readonly string[]>> = {
  'devenv:up': ['ec2:RunInstances', 'ec2:CreateTags', 'ec2:DescribeInstances', 'ec2:DescribeLaunchTemplates'],
  'devenv:list': ['ec2:DescribeInstances'],
  'devenv:extend': ['ec2:DescribeInstances', 'ec2:CreateTags'],
  'devenv:down': ['ec2:DescribeInstances', 'ec2:TerminateInstances'],
};
/** What the reaper always needs. */
export const DEVENV_REAPER_NEEDS: readonly string[] = ['ec2:DescribeInstances', 'ec2:TerminateInstances'];
/** The dev-env role's actions as the CDK stack grants them (infra/lib/devenv-role.ts; a unit test holds them equal). */
export const DEVENV_ROLE_ACTIONS: readonly string[] = [
  'ec2:RunInstances',
  'ec2:CreateTags',
  'ec2:TerminateInstances',
  'ec2:DescribeInstances',
  'ec2:DescribeLaunchTemplates',
];

export type IntegrationName = 'github' | 'datadog' | 'devenv';

/** What one integration's own credential may do, against what was used. */
export interface CredentialUse {
  integration: IntegrationName;
  /** The credential's permissions (`issues:write`, `monitors_read`, `ec2:RunInstances`); undefined: unknown. */
  has?: string[];
  /** What the actions run in the window needed. */
  needed: string[];
  /** What it has and nothing used: could be dropped. */
  unused: string[];
  /** Why `has` is unknown, when it is. */
  note?: string;
}

/** Which actions of these integrations ran in the window (each concrete action once). */
export function credentialUse(
  used: ReadonlySet<string>,
  credentials: {
    /** The GitHub App installation's permissions (`GET /app/installations/{id}`); undefined: unknown. */
    github?: Readonly<Record<string, string>>;
    githubNote?: string;
    datadogScopes?: readonly string[];
    devenvConfigured?: boolean;
  },
): CredentialUse[] {
  const out: CredentialUse[] = [];
  // GitHub: a permission at `write` used only for reading could be `read`.
  const ghNeeded = new Map<string, 'read' | 'write'>();
  for (const action of used) {
    for (const [p, level] of Object.entries(GITHUB_NEEDS[action] ?? {})) {
      if (ghNeeded.get(p) !== 'write') ghNeeded.set(p, level);
    }
  }
  if (ghNeeded.size > 0) ghNeeded.set('metadata', 'read');
  const gh = credentials.github;
  out.push({
    integration: 'github',
    ...(gh ? { has: Object.entries(gh).map(([p, l]) => `${p}:${l}`) } : {}),
    needed: [...ghNeeded].map(([p, l]) => `${p}:${l}`).sort(),
    unused: gh
      ? Object.entries(gh).flatMap(([p, level]) => {
          const need = ghNeeded.get(p);
          if (!need) return [`${p}:${level}`];
          return need === 'read' && level !== 'read' ? [`${p}:${level} (read is enough)`] : [];
        })
      : [],
    ...(gh ? {} : { note: credentials.githubNote ?? 'the installation’s permissions could not be read' }),
  });
  const ddNeeded = new Set([...used].flatMap((a) => DATADOG_NEEDS[a] ?? []));
  const dd = credentials.datadogScopes;
  out.push({
    integration: 'datadog',
    ...(dd ? { has: [...dd] } : {}),
    needed: [...ddNeeded].sort(),
    unused: dd ? dd.filter((s) => !ddNeeded.has(s)) : [],
    ...(dd ? {} : { note: 'Datadog is not configured' }),
  });
  const devNeeded = new Set([...used].flatMap((a) => DEVENV_NEEDS[a] ?? []));
  if (credentials.devenvConfigured) for (const a of DEVENV_REAPER_NEEDS) devNeeded.add(a);
  out.push({
    integration: 'devenv',
    ...(credentials.devenvConfigured ? { has: [...DEVENV_ROLE_ACTIONS] } : {}),
    needed: [...devNeeded].sort(),
    unused: credentials.devenvConfigured ? DEVENV_ROLE_ACTIONS.filter((a) => !devNeeded.has(a)) : [],
    ...(credentials.devenvConfigured ? {} : { note: 'dev environments are not configured' }),
  });
  return out;
}
