import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RotationRefusedError } from '../../src/rotation/errors.js';
import { createRotationHandler } from '../../src/rotation/lambda.js';
import { rotationSettings } from '../../src/rotation/settings.js';
import { ROTATION_STEPS } from '../../src/rotation/steps.js';
import { assertNoCanary, canary } from '../helpers/canary.js';
import { captureLogs } from '../helpers/log-capture.js';
import { REPO_ROOT } from '../helpers/source-tree.js';

/**
 * What a module loads when it is imported: its static value imports, followed through relative
 * files (type-only imports are erased; `import()` runs only when called). Packages are leaves.
 */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.startsWith('src/')) continue;
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const specs = [
      ...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^;]*?\sfrom\s+'([^']+)'/gm),
      ...text.matchAll(/^\s*import\s+'([^']+)'/gm),
    ].map((m) => m[1] as string);
    for (const spec of specs) {
      if (!spec.startsWith('.')) {
        seen.add(spec);
        continue;
      }
      const target = relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), spec)).replace(/\.js$/, '.ts');
      if (existsSync(join(REPO_ROOT, target))) queue.push(target);
    }
  }
  return seen;
}

const NEVER_IN_THE_LAMBDA = ['@slack/bolt', '@slack/socket-mode', 'src/app.ts', 'src/sandbox/', 'src/slack/'];
const loaded = (closure: Set<string>) =>
  [...closure].filter((m) => NEVER_IN_THE_LAMBDA.some((never) => m === never || m.startsWith(never)));

describe('the rotation Lambda', () => {
  it('loads no Bolt, Socket Mode, Slack transport, app or sandbox (its static import closure)', () => {
    const closure = staticClosure('src/rotation/lambda.ts');
    expect(closure).toContain('src/integrations/index.ts');
    expect(closure).toContain('src/rotation/steps.ts');
    expect(loaded(closure)).toEqual([]);
  });

  it('the closure scan finds Bolt where it is (it can fail)', () => {
    expect(loaded(staticClosure('src/slack/bolt-app.ts'))).toContain('@slack/bolt');
  });

  it('refuses anything that is not a rotation event, naming the field and never echoing a value', async () => {
    const logs = captureLogs();
    // Never called: a refused event makes no AWS call.
    const client = new SecretsManagerClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1' });
    const handle = createRotationHandler({ client, env: {}, log: logs.log, redactor: logs.redactor });
    const good = { SecretId: 'opsbot/github', ClientRequestToken: crypto.randomUUID(), Step: 'testSecret' };
    const bad = fc.oneof(
      fc.constantFrom(null, undefined, 42, 'createSecret', []),
      fc.record({
        SecretId: fc.oneof(fc.constant(''), fc.integer(), fc.constant({ arn: canary('id') })),
        ClientRequestToken: fc.constant(good.ClientRequestToken),
        Step: fc.constantFrom(...ROTATION_STEPS),
      }),
      fc.record({
        SecretId: fc.constant(good.SecretId),
        ClientRequestToken: fc.oneof(
          fc.string({ maxLength: 31 }),
          fc.string({ minLength: 65, maxLength: 80 }),
        ),
        Step: fc.constantFrom(...ROTATION_STEPS),
      }),
      fc.record({
        SecretId: fc.constant(canary('id')),
        ClientRequestToken: fc.constant(good.ClientRequestToken),
        Step: fc.string().filter((s) => !(ROTATION_STEPS as readonly string[]).includes(s)),
      }),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (event) => {
        const error = await handle(event).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(RotationRefusedError);
        expect((error as Error).message).toMatch(/^not a Secrets Manager rotation event \(/);
        assertNoCanary({ error, logs: logs.text() });
      }),
      { numRuns: 150 },
    );
    client.destroy();
  });

  it('reads its endpoints and prefix from the environment; a bad one names the variable', () => {
    expect(
      rotationSettings({
        OPSBOT_SECRET_PREFIX: 'team/opsbot/',
        OPSBOT_GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
        OPSBOT_JIRA_URL: 'https://acme.atlassian.net',
        OPSBOT_DATADOG_SITE: 'datadoghq.eu',
      }),
    ).toEqual({
      prefix: 'team/opsbot/',
      endpoints: {
        githubApiUrl: 'https://ghe.example.com/api/v3',
        jiraUrl: 'https://acme.atlassian.net',
        datadogSite: 'datadoghq.eu',
      },
      logLevel: 'info',
    });
    expect(rotationSettings({}).prefix).toBe('opsbot/');
    expect(() => rotationSettings({ OPSBOT_JIRA_URL: 'ftp://x' })).toThrow(
      /^the rotation function's environment is invalid: OPSBOT_JIRA_URL: expected an absolute http/,
    );
  });
});
