import { z } from 'zod';
import type { IntegrationName } from '../config.js';

/**
 * The JSON shape of each integration's secret (CONTRACT.md, "Secret shapes"). Messages name the
 * field and what it should look like; they never quote the value.
 */
const secretText = (what: string) =>
  z
    .string({
      error: (issue) => (issue.input === undefined ? `${what}: required` : `${what}: expected a string`),
    })
    .min(6, { error: `${what}: too short to be real` });
const prefixed = (what: string, prefix: string) =>
  secretText(what).startsWith(prefix, { error: `${what}: expected a value starting with ${prefix}` });
const idText = (what: string) =>
  z
    .union([z.string(), z.number().int().positive()], {
      error: (issue) =>
        issue.input === undefined ? `${what}: required` : `${what}: expected a number or a string`,
    })
    .transform(String)
    .pipe(z.string().regex(/^\d{1,20}$/, { error: `${what}: expected digits` }));

export const slackSecretSchema = z.object({
  botToken: prefixed('botToken', 'xoxb-'),
  signingSecret: secretText('signingSecret'),
  appToken: prefixed('appToken', 'xapp-').optional(),
});

const githubAppSchema = z.object({
  appId: idText('appId'),
  installationId: idText('installationId'),
  privateKey: secretText('privateKey').regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, {
    error: 'privateKey: expected a PEM private key (-----BEGIN … PRIVATE KEY-----)',
  }),
});
const githubTokenSchema = z.object({ token: secretText('token') });
export const githubSecretSchema = z.union([githubAppSchema, githubTokenSchema], {
  error: 'expected either appId, installationId and privateKey (a GitHub App) or token',
});

export const jiraSecretSchema = z.object({
  email: z.email({
    error: (issue) =>
      issue.input === undefined ? 'email: required' : 'email: expected the Atlassian account e-mail address',
  }),
  apiToken: secretText('apiToken'),
});

export const datadogSecretSchema = z.object({
  apiKey: secretText('apiKey'),
  appKey: secretText('appKey'),
  webhookSecret: secretText('webhookSecret'),
});

export type SlackSecret = z.infer<typeof slackSecretSchema>;
export type GitHubSecret = z.infer<typeof githubSecretSchema>;
export type JiraSecret = z.infer<typeof jiraSecretSchema>;
export type DatadogSecret = z.infer<typeof datadogSecretSchema>;

export interface SecretShapes {
  slack: SlackSecret;
  github: GitHubSecret;
  jira: JiraSecret;
  datadog: DatadogSecret;
}

export const SECRET_SCHEMAS: { [I in IntegrationName]: z.ZodType<SecretShapes[I]> } = {
  slack: slackSecretSchema,
  github: githubSecretSchema,
  jira: jiraSecretSchema,
  datadog: datadogSecretSchema,
};

/** Fields whose values are secret: registered with the log redactor as soon as they are loaded. */
export const SENSITIVE_FIELDS: { [I in IntegrationName]: readonly string[] } = {
  slack: ['botToken', 'signingSecret', 'appToken'],
  github: ['privateKey', 'token'],
  jira: ['apiToken'],
  datadog: ['apiKey', 'appKey', 'webhookSecret'],
};

/** Fields that verify inbound requests (checked against CURRENT, PENDING, then PREVIOUS). */
export const INBOUND_FIELDS = {
  slack: 'signingSecret',
  datadog: 'webhookSecret',
} as const satisfies Partial<Record<IntegrationName, string>>;

export type ParsedSecret<I extends IntegrationName> =
  | { ok: true; value: SecretShapes[I] }
  | { ok: false; problems: string[] };

/**
 * Parses a SecretString for `integration`. Never throws and never echoes the text: a JSON syntax
 * error is reported without Node's excerpt of the input.
 *
 * @example
 * const parsed = parseSecret('jira', secretString);
 * if (!parsed.ok) log.error({ problems: parsed.problems }, 'the jira secret is malformed');
 */
export function parseSecret<I extends IntegrationName>(integration: I, text: string): ParsedSecret<I> {
  if (text.length > 65_536)
    return { ok: false, problems: ['larger than 64 KiB (Secrets Manager allows 64 KiB)'] };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, problems: ['not valid JSON (the value is not shown)'] };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, problems: ['expected a JSON object'] };
  }
  // A GitHub secret is either kind: report the fields of the one it was meant to be, not the union.
  const schema =
    integration === 'github'
      ? 'token' in data
        ? githubTokenSchema
        : githubAppSchema
      : SECRET_SCHEMAS[integration];
  const result = schema.safeParse(data) as z.ZodSafeParseResult<SecretShapes[I]>;
  if (result.success) return { ok: true, value: result.data };
  // One problem per field: "too short" and "wrong prefix" about the same value say the same thing.
  const seen = new Set<string>();
  const issues = result.error.issues.filter((issue) => {
    const key = issue.path.map(String).join('.');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { ok: false, problems: issues.slice(0, 10).map(describeIssue) };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // Our messages name the field already; zod's own name the path. Neither includes the input.
  return issue.message.includes(':') || issue.path.length === 0
    ? issue.message
    : `${issue.path.map(String).join('.')}: ${issue.message}`;
}

/** The secret-bearing string fields of a parsed secret, to register with the log redactor. */
export function sensitiveValues(integration: IntegrationName, value: object): string[] {
  const record = value as Record<string, unknown>;
  return SENSITIVE_FIELDS[integration]
    .map((field) => record[field])
    .filter((v): v is string => typeof v === 'string');
}
