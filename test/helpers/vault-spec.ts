import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';

/**
 * Holds requests to Vault's own API description: the part of HashiCorp Vault 1.15's OpenAPI
 * document that opsbot uses, copied into `test/fixtures/vault-openapi/` (source and licence in its
 * README). A concrete path (`/secret/data/opsbot/slack`) is matched to its template
 * (`/{kv_v2_mount_path}/data/{path}`), the method must be one the template has, and a JSON body is
 * validated against the operation's requestBody schema.
 *
 * Stricter than Vault in one way: a body field the schema does not name is refused (Vault only
 * answers a warning, "Endpoint ignored these unrecognized parameters", and the request does not do
 * what was meant).
 */

interface Schema {
  $ref?: string;
  type?: string | string[];
  nullable?: boolean;
  properties?: Record<string, Schema>;
  items?: Schema;
  [key: string]: unknown;
}

interface Operation {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
}

interface PathItem {
  parameters?: { name: string; in: string; schema?: { default?: unknown } }[];
  [method: string]: unknown;
}

interface Spec {
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, Schema> };
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

/** First path segments that are never a mount's name (Vault reserves them). */
const RESERVED_MOUNTS = new Set(['auth', 'sys', 'identity', 'cubbyhole']);

/** Go duration or whole seconds, as Vault's `format: duration` fields take them (`"3600"`, `"1h30m"`). */
const DURATION = /^(?:\d+|(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/;

const SUBSET = 'fixtures/vault-openapi/vault-openapi-subset.json';
/** Beside this file in the repository; from the repository root when compiled elsewhere (the benchmarks). */
const specPath = [new URL(`../${SUBSET}`, import.meta.url), join(process.cwd(), 'test', SUBSET)].find((p) =>
  existsSync(p),
);
if (!specPath) throw new Error(`test/${SUBSET} not found: run from the repository root`);
const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Spec;

export interface VaultRoute {
  template: string;
  /** Path parameters by name (`kv_v2_mount_path`, `path`, …). */
  params: Record<string, string>;
}

interface Template {
  template: string;
  pattern: RegExp;
  names: string[];
  literals: number;
  /** Parameters whose default (`aws`, `kubernetes`) names the mount as Vault enables it by default. */
  defaults: Record<string, unknown>;
}

const templates: Template[] = Object.entries(spec.paths).map(([template, item]): Template => {
  const names: string[] = [];
  let literals = 0;
  const source = template
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment)?.[1];
      if (!param) {
        if (segment) literals += 1;
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      names.push(param);
      // A mount may be nested (`kv/team-a`); a secret's path has any depth. Neither is empty.
      return '(.+?)';
    })
    .join('/');
  // The last parameter takes the rest of the path.
  const pattern = new RegExp(`^${source.replace(/\(\.\+\?\)(?!.*\(\.\+\?\))/, '(.+)')}$`);
  const defaults = Object.fromEntries(
    (item.parameters ?? []).filter((p) => p.in === 'path').map((p) => [p.name, p.schema?.default]),
  );
  return { template, pattern, names, literals, defaults };
});

/**
 * The templates `path` (without `/v1`, e.g. `/auth/aws/login`) can be, most specific first. An auth
 * method's login path fits every method's template (`/auth/{aws_mount_path}/login`,
 * `/auth/{kubernetes_mount_path}/login`): a mount named as a method's default mount (`aws`,
 * `kubernetes`) is that method's; under any other name the body tells which one it is.
 */
export function vaultRoutes(path: string): VaultRoute[] {
  const routes: (VaultRoute & { literals: number; byDefault: boolean })[] = [];
  for (const t of templates) {
    const match = t.pattern.exec(path);
    if (!match) continue;
    const params = Object.fromEntries(t.names.map((name, i) => [name, match[i + 1] as string]));
    const firstSegment = path.split('/')[1] ?? '';
    if (t.template.startsWith('/{') && RESERVED_MOUNTS.has(firstSegment)) continue;
    if (Object.values(params).some((v) => v.split('/').some((s) => s === '' || s === '.' || s === '..')))
      continue;
    const byDefault = t.names.some((n) => n.endsWith('_mount_path') && t.defaults[n] === params[n]);
    routes.push({ template: t.template, params, literals: t.literals, byDefault });
  }
  const named = routes.some((r) => r.byDefault) ? routes.filter((r) => r.byDefault) : routes;
  return named.sort((a, b) => b.literals - a.literals).map(({ template, params }) => ({ template, params }));
}

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('duration', DURATION);
for (const name of ['map', 'int64', 'date-time']) ajv.addFormat(name, true);
const validators = new Map<string, ValidateFunction>();

/** OpenAPI 3.0's schema dialect to JSON Schema: `$ref`s resolved inline, `nullable` as a `null` type. */
function toJsonSchema(schema: Schema, depth = 0): Schema {
  if (depth > 32) throw new Error('vault-spec: $ref nesting too deep');
  if (schema.$ref) {
    const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1] ?? '';
    const target = spec.components.schemas[name];
    if (!target) throw new Error(`vault-spec: unresolved ${schema.$ref}`);
    return toJsonSchema(target, depth + 1);
  }
  const out: Schema = { ...schema };
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  delete out.nullable;
  if (out.properties) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties).map(([k, v]) => [k, toJsonSchema(v, depth + 1)]),
    );
  }
  if (out.items) out.items = toJsonSchema(out.items, depth + 1);
  return out;
}

function validatorFor(template: string, method: string, schema: Schema): ValidateFunction {
  const key = `${method} ${template}`;
  let validate = validators.get(key);
  if (!validate) {
    const top = toJsonSchema(schema);
    validate = ajv.compile(top.properties ? { ...top, additionalProperties: false } : top);
    validators.set(key, validate);
  }
  return validate;
}

function bodyProblem(route: VaultRoute, method: string, body: unknown): string | undefined {
  const item = spec.paths[route.template] as PathItem;
  const operation = item[method.toLowerCase()] as Operation | undefined;
  if (!operation) {
    const allowed = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    return `${method} is not an operation of ${route.template} (it has ${allowed.join(', ')})`;
  }
  const schema = operation.requestBody?.content?.['application/json']?.schema;
  const empty =
    body === undefined ||
    (body !== null && typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0);
  if (!schema) {
    return empty ? undefined : `${method} ${route.template} takes no request body`;
  }
  if (body === undefined) {
    return operation.requestBody?.required ? `${method} ${route.template} needs a JSON body` : undefined;
  }
  const validate = validatorFor(route.template, method.toLowerCase(), schema);
  if (validate(body)) return undefined;
  const errors = (validate.errors ?? [])
    .map((e) =>
      e.keyword === 'additionalProperties'
        ? `unknown field ${JSON.stringify(String(e.params.additionalProperty))}`
        : `${e.instancePath || 'body'} ${e.message ?? 'is invalid'}`,
    )
    .join('; ');
  return `${method} ${route.template}: ${errors}`;
}

/**
 * Undefined when Vault's API description allows `method` on `path` (without `/v1`, e.g.
 * `/auth/aws/login`, `/secret/data/opsbot/slack`; a query string is ignored) with this JSON `body`
 * (undefined for none); otherwise the problem, in words.
 *
 * @example
 * new SimulatedVault({ checkRequest: vaultSpecCheck });
 */
export function vaultSpecCheck(method: string, path: string, body: unknown): string | undefined {
  const bare = path.split('?')[0] ?? '';
  const routes = vaultRoutes(bare);
  if (routes.length === 0) return `${method} ${bare}: no such path in Vault's API description`;
  const problems: string[] = [];
  for (const route of routes) {
    const problem = bodyProblem(route, method.toUpperCase(), body);
    if (problem === undefined) return undefined;
    problems.push(problem);
  }
  return problems.join(' | ');
}
