import { createHmac, generateKeyPairSync, randomBytes, randomInt, randomUUID } from 'node:crypto';

/**
 * Token shapes and ordinary engineering text, generated at run time: nothing secret-looking is
 * committed (bodies are random, of each vendor's alphabet and length), so scanners and push
 * protection have nothing to flag in the repository. Shared by the tests and the benchmark.
 */

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const HEX = '0123456789abcdef';
const BASE32 = `${UPPER}234567`;
const BASE64 = `${ALNUM}+/`;
const BASE64URL = `${ALNUM}_-`;

export function randomOf(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

const digits = (min: number, max: number) =>
  `${randomInt(1, 10)}${randomOf(DIGITS, randomInt(min, max + 1) - 1)}`;
const hex = (length: number) => randomOf(HEX, length);
const b64url = (value: string) => Buffer.from(value).toString('base64url');

/** One sample: `text` carries a token of `kind` exactly at `text.slice(start, end)`. */
export interface TokenSample {
  kind: string;
  text: string;
  start: number;
  end: number;
}

/** A value of the kind and, optionally, the words around it that the kind needs to count. */
interface Shape {
  kind: string;
  make: () => { value: string; before?: string; after?: string };
}

let keys: { rsa: string; ec: string; ed25519: string; encrypted: string } | undefined;
/** Real PEM private keys, generated once per process. */
function pemKeys() {
  if (!keys) {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ed = generateKeyPairSync('ed25519');
    keys = {
      rsa: rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      ec: ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      ed25519: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      encrypted: ed.privateKey
        .export({
          type: 'pkcs8',
          format: 'pem',
          cipher: 'aes-256-cbc',
          passphrase: randomBytes(8).toString('hex'),
        })
        .toString(),
    };
  }
  return keys;
}

/** An OpenSSH-format key (Node cannot write one): the armour around random base64 lines. */
function opensshKey(): string {
  const body = randomBytes(300).toString('base64');
  const lines = body.match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`;
}

function jwt(): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({ sub: randomUUID(), iat: randomInt(1_700_000_000, 1_800_000_000) }));
  const signature = createHmac('sha256', randomBytes(32)).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

/** A password a person might choose: letters, digits and a symbol, 10–24 characters. */
function password(): string {
  const core = randomOf(ALNUM, randomInt(8, 22));
  return `${core}${randomOf('!#%^*_-+', 1)}${randomInt(0, 10)}`;
}

export const TOKEN_SHAPES: readonly Shape[] = [
  {
    kind: 'slack-bot-token',
    make: () => ({ value: `xoxb-${digits(10, 13)}-${digits(10, 13)}-${randomOf(ALNUM, 24)}` }),
  },
  {
    kind: 'slack-bot-token',
    make: () => ({ value: `xoxe.xoxb-1-${randomOf(BASE64URL.replace('_', ''), 120)}` }),
  },
  { kind: 'slack-bot-token', make: () => ({ value: `xoxb-test-canary-${hex(24)}` }) },
  {
    kind: 'slack-user-token',
    make: () => ({ value: `xoxp-${digits(10, 13)}-${digits(10, 13)}-${digits(10, 13)}-${hex(32)}` }),
  },
  {
    kind: 'slack-app-token',
    make: () => ({ value: `xapp-1-A${randomOf(UPPER + DIGITS, 10)}-${digits(13, 13)}-${hex(64)}` }),
  },
  { kind: 'slack-refresh-token', make: () => ({ value: `xoxe-1-${randomOf(ALNUM, 140)}` }) },
  {
    kind: 'slack-workspace-token',
    make: () => ({ value: `xoxa-2-${digits(10, 13)}-${digits(10, 13)}-${digits(10, 13)}-${hex(64)}` }),
  },
  {
    kind: 'slack-legacy-token',
    make: () => ({ value: `xoxs-${digits(10, 12)}-${digits(10, 12)}-${hex(64)}` }),
  },
  {
    kind: 'slack-webhook-url',
    make: () => ({
      before: 'https://',
      value: `hooks.slack.com/services/T${randomOf(UPPER + DIGITS, 10)}/B${randomOf(UPPER + DIGITS, 10)}/${randomOf(ALNUM, 24)}`,
    }),
  },
  { kind: 'github-personal-token', make: () => ({ value: `ghp_${randomOf(ALNUM, 36)}` }) },
  { kind: 'github-oauth-token', make: () => ({ value: `gho_${randomOf(ALNUM, 36)}` }) },
  { kind: 'github-user-token', make: () => ({ value: `ghu_${randomOf(ALNUM, 36)}` }) },
  { kind: 'github-app-token', make: () => ({ value: `ghs_${randomOf(ALNUM, 36)}` }) },
  { kind: 'github-refresh-token', make: () => ({ value: `ghr_${randomOf(ALNUM, 76)}` }) },
  {
    kind: 'github-fine-grained-token',
    make: () => ({ value: `github_pat_${randomOf(ALNUM, 22)}_${randomOf(ALNUM, 59)}` }),
  },
  { kind: 'aws-access-key-id', make: () => ({ value: `AKIA${randomOf(BASE32, 16)}` }) },
  { kind: 'aws-access-key-id', make: () => ({ value: `ASIA${randomOf(BASE32, 16)}` }) },
  {
    kind: 'aws-secret-access-key',
    make: () => ({
      before: `aws_access_key_id = AKIA${randomOf(BASE32, 16)}\naws_secret_access_key = `,
      value: `${randomOf(UPPER, 1)}${randomOf(LOWER, 1)}${randomOf(BASE64, 38)}`,
    }),
  },
  {
    kind: 'aws-secret-access-key',
    make: () => ({
      before: `export AWS_ACCESS_KEY_ID=ASIA${randomOf(BASE32, 16)} AWS_SECRET_ACCESS_KEY=`,
      value: `${randomOf(LOWER, 1)}${randomOf(UPPER, 1)}${randomOf(BASE64, 38)}`,
    }),
  },
  { kind: 'datadog-api-key', make: () => ({ before: 'DD_API_KEY=', value: hex(32) }) },
  { kind: 'datadog-api-key', make: () => ({ before: 'here is the datadog api key: ', value: hex(32) }) },
  { kind: 'datadog-application-key', make: () => ({ before: 'DD_APP_KEY=', value: hex(40) }) },
  {
    kind: 'datadog-application-key',
    make: () => ({ before: '-H "DD-APPLICATION-KEY: ', value: hex(40), after: '"' }),
  },
  {
    kind: 'atlassian-api-token',
    make: () => ({ value: `ATATT3xFfGF0${randomOf(BASE64URL, 171)}=${hex(8).toUpperCase()}` }),
  },
  { kind: 'private-key', make: () => ({ value: pemKeys().rsa.trim() }) },
  { kind: 'private-key', make: () => ({ value: pemKeys().ec.trim() }) },
  { kind: 'private-key', make: () => ({ value: pemKeys().ed25519.trim() }) },
  { kind: 'private-key', make: () => ({ value: pemKeys().encrypted.trim() }) },
  { kind: 'private-key', make: () => ({ value: opensshKey() }) },
  { kind: 'json-web-token', make: () => ({ value: jwt() }) },
  {
    kind: 'bearer-token',
    make: () => ({
      before: 'curl -H "Authorization: Bearer ',
      value: randomBytes(32).toString('base64url'),
      after: '"',
    }),
  },
  { kind: 'generic-secret', make: () => ({ before: 'password=', value: password() }) },
  { kind: 'generic-secret', make: () => ({ before: '"client_secret": "', value: password(), after: '",' }) },
  { kind: 'generic-secret', make: () => ({ before: 'JIRA_API_TOKEN: ', value: randomOf(ALNUM, 24) }) },
  { kind: 'generic-secret', make: () => ({ before: 'db_password := ', value: password() }) },
  {
    kind: 'generic-secret',
    make: () => ({ before: 'webhook secret: ', value: randomBytes(24).toString('base64') }),
  },
];

/** The kinds the corpus covers. */
export const TOKEN_KINDS = [...new Set(TOKEN_SHAPES.map((s) => s.kind))];

/** One sample of `shape`, with its context words, at offset `prefix.length` of `prefix + … + suffix`. */
export function sampleOf(shape: Shape, prefix = '', suffix = ''): TokenSample {
  const { value, before = '', after = '' } = shape.make();
  const start = prefix.length + before.length;
  return {
    kind: shape.kind,
    text: `${prefix}${before}${value}${after}${suffix}`,
    start,
    end: start + value.length,
  };
}

/** `perShape` samples of every shape, each inside a short sentence. */
export function tokenCorpus(perShape: number): TokenSample[] {
  const out: TokenSample[] = [];
  for (const shape of TOKEN_SHAPES)
    for (let i = 0; i < perShape; i++) out.push(sampleOf(shape, 'can someone check this? ', ' thanks'));
  return out;
}

const sha = () => hex(40);
const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)] as T;

/** Ordinary engineering text, one generator per kind of text people paste into Slack. */
const CLEAN: readonly (() => string)[] = [
  () => `Merged #${randomInt(1, 9999)}: fix flaky retry in the dispatcher (${sha()})`,
  () =>
    `commit ${sha()}\nAuthor: Dana <dana@example.com>\nDate:   Tue Jun 3 12:34:56 2025 +0200\n\n    fix(auth): refresh token on 401 and retry once`,
  () => `reverting ${sha().slice(0, 7)}, ${sha().slice(0, 7)} and ${sha()} — they broke the datadog monitor`,
  () => `request id ${randomUUID()} failed, trace ${randomUUID()}`,
  () => `dd trace ${hex(32)} for monitor ${randomInt(1_000_000, 9_999_999)}: p99 is up 40% since ${sha()}`,
  () =>
    `TypeError: Cannot read properties of undefined (reading 'token')\n    at refresh (/app/dist/src/credentials/provider.js:${randomInt(1, 500)}:17)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`,
  () =>
    `TokenExpiredError: jwt expired\n    at /app/node_modules/jsonwebtoken/verify.js:${randomInt(100, 200)}:21\n    at getSecret (/app/node_modules/jsonwebtoken/verify.js:97:14)`,
  () =>
    `SecretsManagerServiceException: Secrets Manager can't find the specified secret. secret: arn:aws:secretsmanager:eu-west-1:${digits(12, 12)}:secret:opsbot/slack-${randomOf(ALNUM, 6)}`,
  () => `![chart](data:image/png;base64,${randomBytes(randomInt(200, 1500)).toString('base64')})`,
  () => `<img src="data:image/jpeg;base64,${randomBytes(600).toString('base64')}">`,
  () =>
    `OPS-${randomInt(1, 9999)} is blocked on PLAT-${randomInt(1, 999)}; moving SEC-${randomInt(1, 99)} to next sprint`,
  () =>
    `https://grafana.example.com/d/${randomOf(ALNUM, 9)}/api-latency?orgId=1&from=now-6h&to=now&var-service=opsbot&refresh=30s`,
  () => `see https://github.com/acme/web/compare/${sha()}...${sha()}?diff=split&w=1`,
  () =>
    `bumped @slack/bolt from 4.${randomInt(0, 9)}.${randomInt(0, 9)} to 5.1.0-rc.${randomInt(1, 9)}+build.${randomInt(1, 99)}`,
  () =>
    `deploy started 2025-06-0${randomInt(1, 9)}T${randomInt(10, 23)}:${randomInt(10, 59)}:00.${randomInt(100, 999)}Z, finished ${Date.now()}`,
  () =>
    `image: ${digits(12, 12)}.dkr.ecr.eu-west-1.amazonaws.com/opsbot@sha256:${hex(64)} (was sha256:${hex(64)})`,
  () => `docker pull datadog/agent@sha256:${hex(64)}`,
  () => `password: required (set it in Secrets Manager, never here); token: see the runbook`,
  () => `the secret is in AWS, under opsbot/datadog; rotation: every 30 days`,
  () => `use \`/opsbot rotate datadog\` and the token will be rotated; api_key: \${DD_API_KEY}`,
  () => `apiKey: process.env.DD_API_KEY, secret: "<your-secret-here>", password: "********"`,
  () => `config: { token: undefined, password: null, secretName: "opsbot/slack" }`,
  () => `md5 ${hex(32)}  release.tar.gz\nsha1 ${sha()}  release.tar.gz`,
  () => `the new tokenizer: SlackTokenizer handles emoji shortcodes like :white_check_mark: now`,
  () =>
    `pod opsbot-${randomOf(LOWER + DIGITS, 10)}-${randomOf(LOWER + DIGITS, 5)} restarted ${randomInt(1, 9)} times; node ip-10-0-${randomInt(0, 255)}-${randomInt(0, 255)}.ec2.internal`,
  () =>
    `${pick(['LGTM', 'Ship it', 'nit: rename', 'Approved'])} 👍 — also ${pick(['cc @dana', 'ping @lee', 'fyi'])}`,
  () => `arn:aws:iam::${digits(12, 12)}:role/opsbot-task-role-${randomOf(UPPER + DIGITS, 12)}`,
  () =>
    `base64 of the config: ${Buffer.from(`service=opsbot\nregion=eu-west-1\nreplicas=${randomInt(1, 9)}`).toString('base64')}`,
  () => `uuid list: ${Array.from({ length: 5 }, () => randomUUID()).join(', ')}`,
  () =>
    `AKIA is the prefix of long-term keys and ASIA of temporary ones; a key id looks like ${awsExampleKeyId()}`,
  () => `Bearer tokens expire after an hour; the Authorization header is "Bearer <token>"`,
];

/** `count` messages of ordinary engineering text. */
export function cleanCorpus(count: number): string[] {
  return Array.from({ length: count }, (_, i) => (CLEAN[i % CLEAN.length] as () => string)());
}

/** How many kinds of clean text there are (a corpus of this size has one of each). */
export const CLEAN_KINDS = CLEAN.length;

/** A key id in the shape of AWS's documentation examples (`AKIA…EXAMPLE`), made at run time. */
export function awsExampleKeyId(): string {
  return `AKIA${randomOf(UPPER + DIGITS, 9)}EXAMPLE`;
}
