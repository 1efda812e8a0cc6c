import { z } from 'zod';

/**
 * How one secret is shaped (README.md, "Secret shapes"): each integration declares its own in its
 * module (`src/integrations/<name>.ts`); the provider, the sources and `npm run secrets` read them
 * from the {@link SecretCatalog} the app is built with, never from a list of their own.
 *
 * @example
 * const jiraSecret: SecretSpec<{ email: string; apiToken: string }> = {
 *   name: 'jira', title: 'Jira',
 *   schema: z.object({ email: z.email(), apiToken: secretText('apiToken') }),
 *   sensitive: ['apiToken'],
 * };
 */
export interface SecretSpec<S = unknown> {
  /** `github`: the secret is `<prefix>github`, the env variable `OPSBOT_SECRET_GITHUB`. */
  name: string;
  /** How users and operators call the service: `GitHub`. */
  title: string;
  schema: z.ZodType<S>;
  /** Fields whose values are secret: registered with the log redactor as soon as they are loaded. */
  sensitive: readonly string[];
  /** A field that verifies inbound requests (checked against CURRENT, PENDING, then PREVIOUS). */
  inbound?: string;
  /** Without it opsbot is not ready (`/readyz` 503); other secrets only disable their integration. */
  required?: boolean;
  /** For a union of shapes: the one to report problems against, given the parsed JSON object. */
  schemaFor?(data: object): z.ZodType<S>;
}

/** Every secret the app knows, by name. Built from the integration registry. */
export type SecretCatalog = ReadonlyMap<string, SecretSpec>;

/** A secret name opsbot accepts (`github`, `status-page`): it becomes part of ARNs and variables. */
export const SECRET_NAME = /^[a-z][a-z0-9-]{1,30}$/;

/** A required string that is long enough to be real; messages name the field, never the value. */
export const secretText = (what: string) =>
  z
    .string({
      error: (issue) => (issue.input === undefined ? `${what}: required` : `${what}: expected a string`),
    })
    .min(6, { error: `${what}: too short to be real` });

export const prefixedSecret = (what: string, prefix: string) =>
  secretText(what).startsWith(prefix, { error: `${what}: expected a value starting with ${prefix}` });

/** A numeric id given as a number or a string of digits; always a string after parsing. */
export const idText = (what: string) =>
  z
    .union([z.string(), z.number().int().positive()], {
      error: (issue) =>
        issue.input === undefined ? `${what}: required` : `${what}: expected a number or a string`,
    })
    .transform(String)
    .pipe(z.string().regex(/^\d{1,20}$/, { error: `${what}: expected digits` }));

export type ParsedSecret<S> = { ok: true; value: S } | { ok: false; problems: string[] };

/**
 * Parses a SecretString against its spec. Never throws and never echoes the text: a JSON syntax
 * error is reported without Node's excerpt of the input.
 *
 * @example
 * const parsed = parseSecret(github.secret, secretString);
 * if (!parsed.ok) log.error({ problems: parsed.problems }, 'the github secret is malformed');
 */
export function parseSecret<S>(spec: SecretSpec<S>, text: string): ParsedSecret<S> {
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
  const schema = spec.schemaFor?.(data) ?? spec.schema;
  const result = schema.safeParse(data);
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
export function sensitiveValues(spec: Pick<SecretSpec, 'sensitive'>, value: unknown): string[] {
  const record = (value ?? {}) as Record<string, unknown>;
  return spec.sensitive.map((field) => record[field]).filter((v): v is string => typeof v === 'string');
}

/** Checks a catalog: names are valid and unique (the registry calls it at start-up). */
export function catalogOf(specs: readonly SecretSpec[]): SecretCatalog {
  const catalog = new Map<string, SecretSpec>();
  for (const spec of specs) {
    if (!SECRET_NAME.test(spec.name)) throw new Error(`secret name "${spec.name}" must match ${SECRET_NAME}`);
    if (catalog.has(spec.name)) throw new Error(`two secrets are named "${spec.name}"`);
    catalog.set(spec.name, spec);
  }
  return catalog;
}
