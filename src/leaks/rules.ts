import { charClasses, shannonEntropy } from './entropy.js';

/**
 * The credential shapes opsbot looks for in Slack messages: our own gitleaks-grade patterns.
 *
 * Why not secretlint: measured on the same mixed corpus (mostly clean text, 1 % with a token),
 * `@secretlint/core` 13.0.7 with `@secretlint/secretlint-rule-preset-recommend` 13.0.7 scanned about
 * 3,500 messages/s on one core, asynchronously (a promise per message), and has no rule for Datadog
 * keys, Atlassian API tokens or generic secret assignments; these rules scan far more (see
 * `npm run bench -- leaks`) synchronously and cover all of them.
 *
 * Every pattern runs in time linear in the text: it starts with a literal (or an assertion of
 * constant width), every repetition is one character class with a bounded count (`{m,n}`, never `*`,
 * `+` or `{n,}`) and no group is repeated (only made optional), so a failed attempt at one position
 * costs at most a constant; `test/unit/leaks/rules.test.ts` checks this on the sources, and its
 * properties run every rule on 40,000 characters of adversarial text.
 * Where a pattern comes from is noted above it:
 * - gitleaks: the default configuration of gitleaks (github.com/gitleaks/gitleaks,
 *   `config/gitleaks.toml`), rule id in brackets;
 * - secretlint: the rule named, in `@secretlint/secretlint-rule-preset-recommend`;
 * - the vendor's own documentation of its token format.
 */

export interface LeakRule {
  /** Stable id, e.g. `slack-bot-token`: what reports and the audit trail name. */
  readonly kind: string;
  /** What a person reads: `Slack bot token`. */
  readonly title: string;
  /**
   * Global (`g`) regex. The finding is capture group 1 when the pattern has one (the group must
   * end the match: the keyword and separator come before it), else the whole match.
   */
  readonly pattern: RegExp;
  /** A further test of the value (not a placeholder, random enough). */
  readonly accept?: (value: string) => boolean;
  /** Only a value with one of these words within `window` characters before or after it counts. */
  readonly near?: { readonly keyword: RegExp; readonly window: number };
  /** A PEM header: the finding runs on to its `-----END … -----` line when that follows. */
  readonly pemBlock?: boolean;
}

/** Placeholders people write where a value goes: `xxxx`, `<token>`, `${TOKEN}`, `changeme`. */
const PLACEHOLDER =
  /^[$%{<[]|x{8}|\*{3}|\.{3}|example|changeme|placeholder|redacted|your[_-]|dummy|sample|process\.env|os\.environ|secretsmanager|(?:^|[^a-z])(?:true|false|null|none|undefined)$/i;

/** A token body that a person typed as an illustration rather than a real value. */
function random(minimumBits: number) {
  return (value: string) => !PLACEHOLDER.test(value) && shannonEntropy(value) >= minimumBits;
}

/**
 * A generic assignment's value: not a placeholder, a path, a URL, an ARN or a version; letters
 * with a digit, or both cases with a symbol (a word, an identifier or a name like `opsbot/slack` is
 * a setting, not a secret); and random enough for its length (a string of n characters has at most
 * log2(n) bits per character, so short values are held to a lower bar).
 */
function secretLike(minimumBits: number) {
  return (value: string) => {
    if (PLACEHOLDER.test(value) || NOT_A_SECRET.test(value) || PATH.test(value)) return false;
    const { upper, lower, digit, other } = charClasses(value);
    const mixedCase = upper && lower;
    const lettersLikeAKey = mixedCase && (other || (value.length >= 16 && !isCamelCase(value)));
    if (!(upper || lower) || !(digit || lettersLikeAKey)) return false;
    return shannonEntropy(value) >= Math.min(minimumBits, 0.8 * Math.log2(value.length));
  };
}

/**
 * Whether letters read as words run together (`SlackTokenizerFactory`, `TLSVerifier`): each part
 * that starts at a lower-to-upper change is at most 4 capitals then at least 2 lower-case letters.
 * A random mix of cases rarely is (a part with one lower-case letter is as likely as not).
 */
function isCamelCase(value: string): boolean {
  return value.split(/(?<=[a-z])(?=[A-Z])/).every((part) => /^[A-Z]{0,4}[a-z]{2,}$/.test(part));
}

/** URLs, ARNs and versions are settings, not secrets. */
const NOT_A_SECRET = /^(?:[a-z][a-z0-9+.-]{1,20}:\/\/|arn:|v?[0-9]{1,6}\.[0-9]{1,6}\.[0-9])/i;
/** A path starts with a lower-case directory name (`/var/run/…`, `~/.aws/…`); base64 may start with `/` too. */
const PATH = /^(?:\.{0,2}|~)\/[a-z0-9_.-]{1,64}(?:\/|$)/;

/** AWS's secret access key: 40 characters of base64 mixing both cases (a 40-hex SHA has no upper case). */
function awsSecretLike(value: string): boolean {
  const classes = charClasses(value);
  return classes.upper && classes.lower && !/EXAMPLE/.test(value) && shannonEntropy(value) >= 4;
}

/**
 * Datadog's key words: `DD_API_KEY`, `dd-application-key`, `Datadog API key`, `datadogAppKey`, `dd key`
 * (not `datadog` alone: a message about a Datadog monitor often carries a commit SHA).
 */
const DATADOG_KEY_WORDS = {
  keyword: /(?<![A-Za-z0-9])(?:datadog|dd)[ _-]?(?:api|app(?:lication)?)?[ _-]?keys?(?![A-Za-z])/gi,
  window: 64,
};

// Slack token bodies: letters, digits and dashes (`xoxb-<team>-<bot>-<24 alphanumerics>`).
const SLACK_BODY = '[A-Za-z0-9-]{20,250}';
// Before a token: nothing that would make it the tail of a longer word.
const START = '(?<![A-Za-z0-9_])';

export const LEAK_RULES: readonly LeakRule[] = [
  // Slack (api.slack.com/authentication/token-types; rotating tokens: api.slack.com/authentication/rotation):
  // gitleaks [slack-bot-token], [slack-user-token], [slack-app-token], [slack-config-access-token],
  // [slack-config-refresh-token], [slack-legacy-workspace-token], [slack-legacy-token]; secretlint
  // `slack`. Bodies are looser than gitleaks' (any 20+ of letters, digits, dashes) so a value whose
  // middle Slack changes is still caught; an illustration (`xoxb-xxxx…`) fails the entropy test.
  {
    kind: 'slack-bot-token',
    title: 'Slack bot token',
    pattern: new RegExp(`${START}(?:xoxe\\.)?xoxb-${SLACK_BODY}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'slack-user-token',
    title: 'Slack user token',
    pattern: new RegExp(`${START}(?:xoxe\\.)?xoxp-${SLACK_BODY}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'slack-app-token',
    title: 'Slack app-level token',
    pattern: new RegExp(`${START}xapp-${SLACK_BODY}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'slack-refresh-token',
    title: 'Slack refresh token',
    pattern: new RegExp(`${START}xox[er]-${SLACK_BODY}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'slack-workspace-token',
    title: 'Slack workspace token',
    pattern: new RegExp(`${START}xoxa-${SLACK_BODY}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'slack-legacy-token',
    title: 'Slack session or legacy token',
    pattern: new RegExp(`${START}xox[cos]-${SLACK_BODY}`, 'g'),
    accept: random(3),
  },
  // gitleaks [slack-webhook-url]; secretlint `slack` (incoming webhooks: api.slack.com/messaging/webhooks).
  {
    kind: 'slack-webhook-url',
    title: 'Slack webhook URL',
    pattern: /hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/+-]{20,200}/g,
    accept: random(3),
  },
  // GitHub (docs.github.com "About authentication to GitHub", token prefixes; github.blog
  // 2021-04-05 "Behind GitHub's new authentication token formats"): gitleaks [github-pat],
  // [github-oauth], [github-app-token], [github-refresh-token], [github-fine-grained-pat];
  // secretlint `github`. 36 characters today; up to 251 accepted (GitHub may lengthen them).
  {
    kind: 'github-personal-token',
    title: 'GitHub personal access token',
    pattern: new RegExp(`${START}ghp_[A-Za-z0-9]{36,251}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'github-oauth-token',
    title: 'GitHub OAuth token',
    pattern: new RegExp(`${START}gho_[A-Za-z0-9]{36,251}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'github-user-token',
    title: 'GitHub user-to-server token',
    pattern: new RegExp(`${START}ghu_[A-Za-z0-9]{36,251}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'github-app-token',
    title: 'GitHub App installation token',
    pattern: new RegExp(`${START}ghs_[A-Za-z0-9]{36,251}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'github-refresh-token',
    title: 'GitHub refresh token',
    pattern: new RegExp(`${START}ghr_[A-Za-z0-9]{36,251}`, 'g'),
    accept: random(3),
  },
  {
    kind: 'github-fine-grained-token',
    title: 'GitHub fine-grained personal access token',
    pattern: new RegExp(`${START}github_pat_[A-Za-z0-9_]{50,255}`, 'g'),
    accept: random(3),
  },
  // AWS (IAM User Guide, "Unique identifiers": AKIA long-term, ASIA temporary): gitleaks
  // [aws-access-token]; secretlint `aws` (which also skips AWS's documented EXAMPLE keys).
  {
    kind: 'aws-access-key-id',
    title: 'AWS access key ID',
    pattern: new RegExp(`${START}(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])`, 'g'),
    accept: (value) => !value.endsWith('EXAMPLE'),
  },
  // The secret access key has no prefix: 40 base64 characters, counted only near an access key id
  // or the words AWS uses for it (`aws_secret_access_key`, `SecretAccessKey`): gitleaks' generic
  // keyword approach; secretlint `aws` (`AWSSecretAccessKey`).
  {
    kind: 'aws-secret-access-key',
    title: 'AWS secret access key',
    pattern: /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
    accept: awsSecretLike,
    near: {
      keyword: /A[KS]IA[A-Z0-9]{16}|aws.{0,20}secret|secret.?access.?key/gi,
      window: 200,
    },
  },
  // Datadog (docs.datadoghq.com/account_management/api-app-keys: API keys are 32 hex characters,
  // application keys 40): gitleaks [datadog-access-token] (keyword-gated). Bare hex is everywhere
  // (git SHAs are 40 hex), so it counts only near Datadog's key words. A Datadog key beside a bare
  // `api_key:` is the generic rule's.
  {
    kind: 'datadog-api-key',
    title: 'Datadog API key',
    pattern: /(?<![A-Za-z0-9])[a-f0-9]{32}(?![A-Za-z0-9])/g,
    near: DATADOG_KEY_WORDS,
  },
  {
    kind: 'datadog-application-key',
    title: 'Datadog application key',
    pattern: /(?<![A-Za-z0-9])[a-f0-9]{40}(?![A-Za-z0-9])/g,
    near: DATADOG_KEY_WORDS,
  },
  // Atlassian API tokens (support.atlassian.com "Manage API tokens for your Atlassian account";
  // `ATATT3` + 186 characters today): gitleaks [atlassian-api-token].
  {
    kind: 'atlassian-api-token',
    title: 'Atlassian API token',
    pattern: new RegExp(`${START}ATATT3[A-Za-z0-9_=-]{60,300}`, 'g'),
    accept: random(3.5),
  },
  // PEM private keys (RFC 7468; OpenSSH, PGP armour): gitleaks [private-key]; secretlint
  // `privatekey`. The header alone is enough: a half-pasted key is still a leaked key.
  {
    kind: 'private-key',
    title: 'Private key',
    pattern: /-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----/g,
    pemBlock: true,
  },
  // JSON Web Tokens (RFC 7519: header and claims are base64url JSON, so both start `eyJ`):
  // gitleaks [jwt].
  {
    kind: 'json-web-token',
    title: 'JSON Web Token',
    pattern: new RegExp(
      `${START}eyJ[A-Za-z0-9_-]{10,4000}\\.eyJ[A-Za-z0-9_-]{10,8000}\\.[A-Za-z0-9_-]{10,2000}`,
      'g',
    ),
  },
  // The generic rules come last: a finding above that they overlap wins.
  // `Authorization: Bearer …` (RFC 6750): gitleaks [generic-api-key]'s entropy approach.
  {
    kind: 'bearer-token',
    title: 'Bearer token',
    pattern: /bearer[ \t]{1,4}([A-Za-z0-9._~+/-]{20,500}={0,2})/gi,
    accept: secretLike(3.5),
  },
  // `password=…`, `secret: …`, `"api_key": "…"`, `GITHUB_TOKEN=…`: gitleaks [generic-api-key]
  // (keyword, up to 24 more name characters, an assignment operator, the value) with an entropy
  // threshold of 3 bits per character, letters mixed with digits or symbols.
  {
    kind: 'generic-secret',
    title: 'Password or secret in an assignment',
    pattern:
      /(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]{0,24}["'`]?[ \t]{0,4}(?:=>|:=|=|:)[ \t]{0,4}["'`]?([^\s"'`<>,;]{8,200})/gi,
    accept: secretLike(3),
  },
];
