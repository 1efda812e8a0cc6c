import { randomInt } from 'node:crypto';
import { OwnSecretIndex } from '../../src/leaks/own-secrets.js';
import { scanText } from '../../src/leaks/scan.js';
import {
  cleanCorpus,
  randomOf,
  sampleOf,
  TOKEN_KINDS,
  TOKEN_SHAPES,
  tokenCorpus,
} from '../unit/leaks/corpus.js';

/**
 * `npm run bench -- leaks`: the leak scan (src/leaks/) on one core: messages per second over a
 * realistic mix (99 % ordinary engineering text, 1 % carrying a token), with and without the
 * comparison against opsbot's own values; the detection rate per kind on the token corpus; the
 * false-positive rate on the clean corpus; p50 / p99 per message; and the worst case, a
 * 40,000-character message (Slack's limit) of adversarial text.
 */
export async function benchLeakScan(): Promise<void> {
  const clean = cleanCorpus(20_000);
  const tokens = tokenCorpus(200);

  // Detection on the token corpus, per kind.
  const perKind = new Map<string, { found: number; total: number }>();
  for (const sample of tokens) {
    const tally = perKind.get(sample.kind) ?? { found: 0, total: 0 };
    tally.total++;
    if (
      scanText(sample.text).some(
        (f) => f.kind === sample.kind && f.start === sample.start && f.end === sample.end,
      )
    )
      tally.found++;
    perKind.set(sample.kind, tally);
  }
  let found = 0;
  for (const kind of TOKEN_KINDS) {
    const { found: f, total } = perKind.get(kind) ?? { found: 0, total: 0 };
    found += f;
    console.log(`leak scan: detected ${kind}: ${f}/${total}`);
  }
  console.log(`leak scan: detection rate: ${found}/${tokens.length} (${pct(found / tokens.length)})`);

  // False positives on the clean corpus.
  const flagged = clean.filter((text) => scanText(text).length > 0).length;
  console.log(
    `leak scan: false positives: ${flagged}/${clean.length} clean messages (${pct(flagged / clean.length)})`,
  );

  // Throughput and per-message time on the mix.
  const mixed = clean.map((text, i) => (i % 100 === 0 ? (tokens[i % tokens.length]?.text ?? text) : text));
  const own = new OwnSecretIndex();
  own.replace('datadog', {
    apiKey: randomOf('0123456789abcdef', 32),
    webhookSecret: randomOf('ABCDEFabcdef0123456789', 40),
  });
  own.replace('slack', {
    botToken: `xoxb-${randomOf('0123456789', 12)}-${randomOf('0123456789', 12)}-${randomOf('abcdefABCDEF0123456789', 24)}`,
  });
  for (const withOwn of [false, true]) {
    for (const text of mixed.slice(0, 2_000)) scanAndMatch(text, withOwn ? own : undefined); // warm-up
    const times: number[] = [];
    const started = process.hrtime.bigint();
    for (const text of mixed) {
      const t = process.hrtime.bigint();
      scanAndMatch(text, withOwn ? own : undefined);
      times.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    times.sort((a, b) => a - b);
    const label = withOwn ? 'scan + own-secret match' : 'scan';
    console.log(`leak ${label}: ${Math.round(mixed.length / seconds)} messages/s on one core`);
    console.log(
      `leak ${label}: p50 ${quantile(times, 0.5).toFixed(1)} us, p99 ${quantile(times, 0.99).toFixed(1)} us per message`,
    );
  }

  // The worst case: 40,000 characters built to keep the rules busy.
  for (const [name, text] of adversarial()) {
    const t = process.hrtime.bigint();
    const findings = scanText(text);
    own.find(text, findings);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(`leak scan: 40,000 characters of ${name}: ${ms.toFixed(2)} ms, ${findings.length} findings`);
  }
}

function scanAndMatch(text: string, own: OwnSecretIndex | undefined): void {
  const findings = scanText(text);
  own?.find(text, findings);
}

function adversarial(): [string, string][] {
  const near = (unit: string) => unit.repeat(Math.ceil(40_000 / unit.length)).slice(0, 40_000);
  const shape = TOKEN_SHAPES[randomInt(TOKEN_SHAPES.length)];
  return [
    ['one alphanumeric run', near(randomOf('ABCDEFabcdef0123456789', 997))],
    ['repeated Slack prefixes', near('xoxb-xoxp-')],
    ['near-miss GitHub tokens', near(`ghp_${randomOf('abcdef0123', 35)} `)],
    ['password= assignments', near('password=a ')],
    ['Datadog key words and hex', near(`DD_API_KEY ${randomOf('0123456789abcdef', 32)} `)],
    ['PEM headers without an end', near('-----BEGIN RSA PRIVATE KEY-----\n')],
    ['tokens (the finding cap)', near(`${shape ? sampleOf(shape).text : ''} `)],
  ];
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
