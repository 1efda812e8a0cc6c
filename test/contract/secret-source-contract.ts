import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialEventsTo } from '../../src/audit/credential-events.js';
import { CredentialUnavailableError, IntegrationNotConfiguredError } from '../../src/credentials/errors.js';
import { createCredentialMetrics } from '../../src/credentials/metrics.js';
import { CredentialProvider, type CredentialProviderOptions } from '../../src/credentials/provider.js';
import { type SecretSource, STAGE } from '../../src/credentials/source.js';
import { verifyInboundSecret } from '../../src/credentials/verify-inbound.js';
import { SecretRedactor } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { assertNoCanary, CANARY_MARK, canary } from '../helpers/canary.js';
import { CATALOG } from '../helpers/catalog.js';
import { elapse, FakeClock } from '../helpers/fake-clock.js';
import { captureLogs, type LogCapture } from '../helpers/log-capture.js';
import { MemoryAuditSink } from '../helpers/memory-audit-sink.js';
import { expectSourceError } from '../helpers/source-error.js';

/**
 * The behaviour every secret source must show (aws, vault, file, env), checked through the
 * {@link SecretSource} interface alone and through a {@link CredentialProvider} on top of it, as the
 * app runs them: versions, the previous version's grace on inbound checks, stale-if-error, "not
 * configured", malformed values, and no secret value in any output (every value is a canary).
 * The provider runs on a fake clock and polls exactly every 60 s; the backends are real (moto, the
 * sandbox, a file, an environment object), reached the way production reaches them.
 *
 * @example
 * describeSecretSourceContract('file', openFileDriver);
 * describeSecretSourceContract('env', openEnvDriver, { noOutage: 'variables are read from memory' });
 */

/** One source under test, and a way to change what its backend holds. */
export interface SourceDriver {
  /** The real source under test, created the way from-config.ts would (names are `<prefix><integration>`). */
  source: SecretSource;
  /** e.g. 'opsbot/' (unique per test where the backend is shared). */
  prefix: string;
  /** Stores `secretString` as the new current version of `name` (creating it the first time). */
  put(name: string, secretString: string): Promise<void>;
  /** The secret no longer exists (the integration is not configured). */
  remove(name: string): Promise<void>;
  /**
   * Makes every call of the source fail as an unreachable/unavailable backend would, until `end()`.
   * Absent where the source cannot be unavailable (env).
   */
  outage?: { begin(): Promise<void>; end(): Promise<void> };
  /**
   * Marks the current version as an emergency rotation (puts OPSBOT_EMERGENCY on it), where the
   * backend has labels an operator can set (Secrets Manager). Absent elsewhere.
   */
  markEmergency?(name: string): Promise<void>;
  /**
   * How many versions back the source itself keeps and labels as previous: 1 (AWSPREVIOUS in
   * Secrets Manager, previous in the file, the prior KV version in Vault) or 0 (env: one version only).
   */
  previousVersions: 0 | 1;
  close(): Promise<void>;
}

export interface SecretSourceContractOptions {
  /** Random runs per property (default 20: each run is a few calls to the backend). */
  propertyRuns?: number;
  /** Why the source cannot be unavailable: the stale-if-error cases are then not registered. */
  noOutage?: string;
  /** Why an operator cannot label a version as an emergency: that case is then not registered. */
  noEmergencyLabel?: string;
  /**
   * Why the source holds a secret's fields, not a string (Vault's KV v2): a value that is not a
   * JSON object cannot be written, so those malformed variants are not registered, and a value
   * round-trips as the same fields (JSON.stringify of them), not byte for byte.
   */
  fieldsOnly?: string;
}

const POLL_MS = 60_000;
/** OPSBOT_SECRET_MAX_STALE_SECONDS in the stale-if-error cases. */
const MAX_STALE_SECONDS = 600;
/** The default OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS. */
const GRACE_MS = 300_000;

interface SlackValue {
  botToken: string;
  signingSecret: string;
}
const slackValue = (): SlackValue => ({ botToken: canary('xoxb'), signingSecret: canary('sign') });

/** Values that are not the slack secret's shape, each carrying a canary and the problem it must be reported as. */
const MALFORMED: readonly {
  what: string;
  text: (secret: string) => string;
  problem: RegExp;
  /** Not a JSON object: a source that stores fields (Vault's KV) cannot even hold it. */
  notFields?: true;
}[] = [
  {
    what: 'not JSON',
    text: (s) => `{"botToken": "xoxb-${s}", "signingSecret": "${s}"`,
    problem: /not valid JSON/,
    notFields: true,
  },
  {
    what: 'JSON missing a required field',
    text: (s) => JSON.stringify({ botToken: `xoxb-${s}` }),
    problem: /signingSecret: required/,
  },
  {
    what: 'a field of the wrong type',
    text: (s) => JSON.stringify({ botToken: `xoxb-${s}`, signingSecret: 12_345_678 }),
    problem: /signingSecret: expected a string/,
  },
  {
    what: 'a field with the wrong prefix',
    text: (s) => JSON.stringify({ botToken: `xoxp-${s}`, signingSecret: s }),
    problem: /botToken: expected a value starting with xoxb-/,
  },
  {
    what: 'a JSON array',
    text: (s) => JSON.stringify([s]),
    problem: /expected a JSON object/,
    notFields: true,
  },
];

/** The malformed variants a source can hold. */
const malformedFor = (options: SecretSourceContractOptions) =>
  options.fieldsOnly ? MALFORMED.filter((m) => !m.notFields) : MALFORMED;

/** What one test has: the driver, a fake clock, providers over the source, and everything they output. */
interface Harness {
  driver: SourceDriver;
  clock: FakeClock;
  /** `<prefix>slack`: the secret the cases use (it has an inbound field, signingSecret). */
  name: string;
  /**
   * A provider over the driver's source, wired as from-config.ts wires it. Its log has a redactor of
   * its own that knows no value, so a value that reaches a log line shows there as itself.
   */
  provider(options?: Partial<CredentialProviderOptions>): CredentialProvider;
  putSlack(value?: SlackValue): Promise<SlackValue>;
  /** The error `call` throws (it must throw), kept for the leak check. */
  failure(call: () => unknown): Promise<Error>;
  /** Keeps an output (a description, a version's metadata) for the leak check. */
  saw(output: unknown): void;
  logs: LogCapture;
}

type WithHarness = (fn: (h: Harness) => Promise<void>) => Promise<void>;

/** Registers the contract suite for the source each `open()` gives (fresh, holding nothing under its prefix). */
export function describeSecretSourceContract(
  name: string,
  open: () => Promise<SourceDriver>,
  options: SecretSourceContractOptions = {},
): void {
  const withHarness: WithHarness = async (fn) => {
    const driver = await open();
    const clock = new FakeClock();
    const logs = captureLogs();
    const audit = new MemoryAuditSink(1_000, () => clock.now());
    const registry = createMetrics({ defaultMetrics: false });
    const providers: CredentialProvider[] = [];
    const errors: Error[] = [];
    const outputs: unknown[] = [];
    const h: Harness = {
      driver,
      clock,
      name: `${driver.prefix}slack`,
      logs,
      provider(overrides = {}) {
        let provider: CredentialProvider | undefined;
        registry.clear(); // the metrics of this provider replace those of an earlier one
        const metrics = createCredentialMetrics(registry, {
          source: driver.source.kind,
          staleness: () => provider?.staleness() ?? [],
        });
        provider = new CredentialProvider({
          source: driver.source,
          catalog: CATALOG,
          prefix: driver.prefix,
          pollSeconds: POLL_MS / 1_000,
          maxStaleSeconds: 21_600,
          log: logs.log,
          redactor: new SecretRedactor({ now: () => clock.now() }),
          events: credentialEventsTo(audit),
          metrics,
          clock,
          random: () => 0.5, // polls exactly every 60 s; backoff waits half its ceiling
          ...overrides,
        });
        providers.push(provider);
        return provider;
      },
      async putSlack(value = slackValue()) {
        await driver.put(h.name, JSON.stringify(value));
        return value;
      },
      async failure(call) {
        let thrown: unknown;
        try {
          await call();
        } catch (error) {
          thrown = error;
        }
        expect(thrown, 'expected the call to throw').toBeInstanceOf(Error);
        errors.push(thrown as Error);
        return thrown as Error;
      },
      saw: (output) => outputs.push(output),
    };
    try {
      await fn(h);
      // Case 6 for every case: nothing a person or a machine could read holds a value.
      assertNoCanary({
        logs: logs.text(),
        audit: audit.events,
        metrics: await registry.metrics(),
        errors,
        outputs,
      });
    } finally {
      for (const provider of providers) provider.stop();
      await driver.close();
    }
  };

  describe(`SecretSource contract: ${name}`, () => {
    describe('versions', () => versionCases(withHarness));
    describe('previous-version grace on inbound checks', () => graceCases(withHarness, options));
    describe('stale-if-error', () => staleCases(withHarness, options));
    describe('not configured', () => notConfiguredCases(withHarness));
    describe('malformed values', () => malformedCases(withHarness, options));
    describe('nothing leaks', () => leakCases(withHarness, options));
    describe('properties', () => propertyCases(withHarness, options.propertyRuns ?? 20, options));
  });
}

async function describeCurrent(
  h: Harness,
): Promise<{ id: string; versions: ReadonlyMap<string, readonly string[]> }> {
  const description = await h.driver.source.describe(h.name);
  h.saw(description);
  expect(description.name).toBe(h.name);
  const current = [...description.versions].filter(([, stages]) => stages.includes(STAGE.current));
  expect(current, 'exactly one version carries AWSCURRENT').toHaveLength(1);
  return { id: current[0]?.[0] as string, versions: description.versions };
}

async function versionValue(h: Harness, versionId: string): Promise<string> {
  const version = await h.driver.source.getVersion(h.name, versionId);
  h.saw({ ...version, secretString: String(version.secretString) });
  expect(version).toMatchObject({ name: h.name, versionId });
  return version.secretString.reveal();
}

const slackOf = (provider: CredentialProvider) => provider.current('slack').value.reveal() as SlackValue;
const accepts = (provider: CredentialProvider, signingSecret: string) =>
  verifyInboundSecret(provider, 'slack', signingSecret).ok;

function versionCases(withHarness: WithHarness): void {
  it('describe lists the current version as AWSCURRENT; getVersion returns its value exactly', () =>
    withHarness(async (h) => {
      const value = await h.putSlack();
      const { id } = await describeCurrent(h);
      const version = await h.driver.source.getVersion(h.name, id);
      expect(version.stages).toContain(STAGE.current);
      expect(version.secretString.reveal()).toBe(JSON.stringify(value));
      expect(String(version.secretString)).toBe('[REDACTED]');
      h.saw({ ...version, secretString: String(version.secretString) });
    }));

  it('a put makes a new version current; the old one is AWSPREVIOUS where the source keeps one', () =>
    withHarness(async (h) => {
      const first = await h.putSlack();
      const { id: firstId } = await describeCurrent(h);
      const second = await h.putSlack();
      const { id: secondId, versions } = await describeCurrent(h);
      expect(secondId).not.toBe(firstId);
      expect(await versionValue(h, secondId)).toBe(JSON.stringify(second));
      if (h.driver.previousVersions === 1) {
        expect(versions.get(firstId)).toContain(STAGE.previous);
        expect(versions.get(firstId)).not.toContain(STAGE.current);
        expect(await versionValue(h, firstId)).toBe(JSON.stringify(first));
      } else {
        expect(versions.has(firstId)).toBe(false);
      }
    }));

  it('the provider serves the new value after its next poll, without a restart, and says so once', () =>
    withHarness(async (h) => {
      const first = await h.putSlack();
      const provider = h.provider();
      const changes: Array<[string | undefined, string]> = [];
      provider.onChange('slack', (c) => changes.push([c.previous?.versionId, c.current.versionId]));
      await provider.start(['slack']);
      const firstId = provider.current('slack').versionId;
      expect(slackOf(provider)).toEqual(first);

      const second = await h.putSlack();
      await elapse(h.clock, provider, POLL_MS - 5_000, 5_000);
      expect(slackOf(provider)).toEqual(first); // not before the poll
      await elapse(h.clock, provider, 5_000, 5_000);
      expect(slackOf(provider)).toEqual(second);
      const secondId = provider.current('slack').versionId;
      expect(secondId).not.toBe(firstId);
      expect(changes).toEqual([[firstId, secondId]]);
      const changed = h.logs.records().filter((r) => r.msg === 'secret version changed');
      expect(changed).toHaveLength(1);
      expect(changed[0]).toMatchObject({
        integration: 'slack',
        versionId: secondId,
        previousVersionId: firstId,
      });

      await elapse(h.clock, provider, 3 * POLL_MS, 5_000); // no change, no new announcement
      expect(changes).toHaveLength(1);
    }));

  it('getVersion of a version the secret does not have is not_found, naming the secret', () =>
    withHarness(async (h) => {
      await h.putSlack();
      const error = await expectSourceError(
        h.driver.source.getVersion(h.name, '00000000-0000-4000-8000-000000000000'),
        'not_found',
        named(h.name),
      );
      await h.failure(() => Promise.reject(error));
    }));
}

function graceCases(withHarness: WithHarness, options: SecretSourceContractOptions): void {
  it('an inbound check accepts the previous value during the grace after a rotation, and refuses it after', () =>
    withHarness(async (h) => {
      const first = await h.putSlack();
      const provider = h.provider();
      await provider.start(['slack']);
      expect(accepts(provider, first.signingSecret)).toBe(true);

      const second = await h.putSlack();
      await elapse(h.clock, provider, POLL_MS, 5_000); // the rotation is seen here
      expect(slackOf(provider)).toEqual(second);
      expect(accepts(provider, second.signingSecret)).toBe(true);
      expect(accepts(provider, first.signingSecret)).toBe(true);
      expect(accepts(provider, canary('sign'))).toBe(false);

      await elapse(h.clock, provider, GRACE_MS - 5_000, 5_000);
      expect(accepts(provider, first.signingSecret)).toBe(true);
      await elapse(h.clock, provider, 10_000, 5_000);
      expect(accepts(provider, first.signingSecret)).toBe(false);
      expect(accepts(provider, second.signingSecret)).toBe(true);
    }));

  it('with OPSBOT_SECRET_PREVIOUS_GRACE_SECONDS=0 the previous value is refused once the rotation is seen', () =>
    withHarness(async (h) => {
      const first = await h.putSlack();
      const provider = h.provider({ previousGraceMs: 0 });
      await provider.start(['slack']);
      const second = await h.putSlack();
      await elapse(h.clock, provider, POLL_MS, 5_000);
      expect(accepts(provider, first.signingSecret)).toBe(false);
      expect(accepts(provider, second.signingSecret)).toBe(true);
    }));

  if (options.noEmergencyLabel) {
    // Not registered: the emergency label is a staging label an operator sets, which this source has not.
    it.skip(`the emergency label ends the grace at once: not applicable (${options.noEmergencyLabel})`, () => {});
  } else {
    it('the emergency label on the current version ends the grace at the next poll', () =>
      withHarness(async (h) => {
        const markEmergency = h.driver.markEmergency?.bind(h.driver);
        expect(markEmergency, 'the driver has no markEmergency: pass noEmergencyLabel').toBeDefined();
        const first = await h.putSlack();
        const provider = h.provider();
        await provider.start(['slack']);
        const second = await h.putSlack();
        await elapse(h.clock, provider, POLL_MS, 5_000);
        expect(accepts(provider, first.signingSecret)).toBe(true); // within the grace

        await markEmergency?.(h.name);
        await elapse(h.clock, provider, POLL_MS, 5_000);
        expect(accepts(provider, first.signingSecret)).toBe(false);
        expect(accepts(provider, second.signingSecret)).toBe(true);
        expect(provider.inboundCandidates('slack').map((c) => c.versionId)).toEqual([
          provider.current('slack').versionId,
        ]);
        // Said in the log: Secrets Manager's label, or Vault's destroyed versions.
        expect(
          h.logs
            .records()
            .some(
              (r) =>
                r.msg === 'emergency rotation: only AWSCURRENT is accepted' ||
                r.msg ===
                  'the previous secret version was deleted or destroyed at the source: no longer accepted',
            ),
        ).toBe(true);
      }));
  }
}

function staleCases(withHarness: WithHarness, options: SecretSourceContractOptions): void {
  if (options.noOutage) {
    // Not registered: a source that cannot fail has no last good value to fall back on.
    it.skip(`stale-if-error: not applicable (${options.noOutage})`, () => {});
    return;
  }
  const outageOf = (h: Harness) => {
    expect(h.driver.outage, 'the driver has no outage: pass noOutage').toBeDefined();
    return h.driver.outage as NonNullable<SourceDriver['outage']>;
  };
  const stalenessOf = (provider: CredentialProvider) => new Map(provider.staleness()).get('slack');

  it('during an outage the last good value serves within OPSBOT_SECRET_MAX_STALE_SECONDS, then fails closed; polling recovers', () =>
    withHarness(async (h) => {
      const outage = outageOf(h);
      const first = await h.putSlack();
      const provider = h.provider({ maxStaleSeconds: MAX_STALE_SECONDS });
      await provider.start(['slack']);
      expect(stalenessOf(provider)).toBe(0);

      await outage.begin();
      await elapse(h.clock, provider, 5 * POLL_MS, 5_000);
      expect(slackOf(provider)).toEqual(first);
      expect(accepts(provider, first.signingSecret)).toBe(true);
      expect(provider.isLoaded('slack')).toBe(true); // readiness: still ready
      expect(provider.isConfigured('slack')).toBe(true);
      expect(stalenessOf(provider)).toBe(300); // unconfirmed since the start
      const failing = h.logs
        .records()
        .filter((r) => r.msg === 'secret store failing; serving the last good value');
      expect(failing.length).toBeGreaterThan(0);
      expect(failing[0]).toMatchObject({ level: 'warn', integration: 'slack', secret: h.name });

      await elapse(h.clock, provider, MAX_STALE_SECONDS * 1_000 - 5 * POLL_MS + 5_000, 5_000);
      const error = await h.failure(() => provider.current('slack'));
      expect(error).toBeInstanceOf(CredentialUnavailableError);
      expect(error.message).toMatch(/has not confirmed it for \d+ s/);
      expect(error.message).toMatch(/OPSBOT_SECRET_MAX_STALE_SECONDS/);
      expect(error.message).toMatch(/Ask an opsbot admin/);
      expect(provider.isLoaded('slack')).toBe(false); // readiness: not ready
      expect(provider.isConfigured('slack')).toBe(true); // and not mistaken for "not configured"
      expect(accepts(provider, first.signingSecret)).toBe(false);

      const second = await h.putSlack(); // rotated while the source was away
      await outage.end();
      await elapse(h.clock, provider, POLL_MS, 5_000);
      expect(slackOf(provider)).toEqual(second);
      expect(provider.isLoaded('slack')).toBe(true);
      expect(stalenessOf(provider)).toBe(0);
      expect(h.logs.records().some((r) => r.msg === 'secret store reachable again')).toBe(true);
    }));

  it('an outage before the first load: nothing served, not "not configured", loaded once the source is back', () =>
    withHarness(async (h) => {
      const outage = outageOf(h);
      const first = await h.putSlack();
      await outage.begin();
      const provider = h.provider();
      await provider.start(['slack']);
      const error = await h.failure(() => provider.get('slack'));
      expect(error).toBeInstanceOf(CredentialUnavailableError);
      expect(error).not.toBeInstanceOf(IntegrationNotConfiguredError);
      expect(error.message).toMatch(/not been loaded from the secret store yet\. Try again in a minute/);
      expect(provider.isConfigured('slack')).toBe(true);
      expect(provider.isLoaded('slack')).toBe(false);
      expect(
        h.logs.records().some((r) => r.msg === 'secret store failing; nothing loaded yet, retrying'),
      ).toBe(true);

      await outage.end();
      await elapse(h.clock, provider, POLL_MS, 5_000);
      expect(slackOf(provider)).toEqual(first);
    }));

  it('the source says transient during an outage, and nothing else', () =>
    withHarness(async (h) => {
      const outage = outageOf(h);
      await h.putSlack();
      const { id } = await describeCurrent(h);
      await outage.begin();
      const errors = [
        await expectSourceError(h.driver.source.describe(h.name), 'transient', named(h.name)),
        await expectSourceError(h.driver.source.getVersion(h.name, id), 'transient', named(h.name)),
      ];
      for (const error of errors) await h.failure(() => Promise.reject(error));
      await outage.end();
      await describeCurrent(h);
    }));
}

function notConfiguredCases(withHarness: WithHarness): void {
  it('a secret that does not exist is not_found from the source, naming it', () =>
    withHarness(async (h) => {
      const name = named(h.name);
      const errors = [
        await expectSourceError(h.driver.source.describe(h.name), 'not_found', name),
        await expectSourceError(
          h.driver.source.getVersion(h.name, '00000000-0000-4000-8000-000000000000'),
          'not_found',
          name,
        ),
      ];
      for (const error of errors) await h.failure(() => Promise.reject(error));
    }));

  it('the provider reports it as not configured (never as transient), and takes it once it is added', () =>
    withHarness(async (h) => {
      const provider = h.provider();
      await provider.start(['slack']);
      expect(provider.isConfigured('slack')).toBe(false);
      expect(provider.isLoaded('slack')).toBe(false);
      const error = await h.failure(() => provider.get('slack'));
      expect(error).toBeInstanceOf(IntegrationNotConfiguredError);
      expect(error.message).toContain(`opsbot has no secret \`${h.name}\``);
      const info = h.logs.records().filter((r) => String(r.msg).startsWith('integration not configured'));
      expect(info).toHaveLength(1);
      expect(h.logs.records().some((r) => String(r.msg).startsWith('secret store failing'))).toBe(false);

      const value = await h.putSlack();
      await elapse(h.clock, provider, POLL_MS, 5_000);
      expect(provider.isConfigured('slack')).toBe(true);
      expect(slackOf(provider)).toEqual(value);
    }));

  it('removing an existing secret is noticed at the next poll: not configured, the old value no longer served', () =>
    withHarness(async (h) => {
      const value = await h.putSlack();
      const provider = h.provider();
      await provider.start(['slack']);
      expect(slackOf(provider)).toEqual(value);

      await h.driver.remove(h.name);
      await elapse(h.clock, provider, POLL_MS, 5_000);
      expect(provider.isConfigured('slack')).toBe(false);
      expect(provider.isLoaded('slack')).toBe(false);
      expect(await h.failure(() => provider.current('slack'))).toBeInstanceOf(IntegrationNotConfiguredError);
      expect(accepts(provider, value.signingSecret)).toBe(false);
    }));
}

function malformedCases(withHarness: WithHarness, options: SecretSourceContractOptions): void {
  if (options.fieldsOnly) {
    it.skip(`not JSON and a JSON array are not registered: ${options.fieldsOnly}`, () => {});
  }
  describe.each(malformedFor(options))('$what', ({ text, problem }) => {
    it('as the first value: a typed error naming the secret and the problem, never the value', () =>
      withHarness(async (h) => {
        const secret = canary('bad');
        await h.driver.put(h.name, text(secret));
        const provider = h.provider();
        await provider.start(['slack']);
        const error = await h.failure(() => provider.get('slack'));
        expect(error).toBeInstanceOf(CredentialUnavailableError);
        expect(error.message).toContain(`the secret \`${h.name}\` is malformed`);
        expect(error.message).toMatch(problem);
        expect(error.message).toMatch(/Ask an opsbot admin to fix it/);
        expect(provider.isConfigured('slack')).toBe(true);
        expect(provider.isLoaded('slack')).toBe(false);
        const logged = h.logs.records().find((r) => r.msg === 'secret unusable');
        expect(logged).toMatchObject({ level: 'error', secret: h.name });
        expect(String(logged?.problems)).toMatch(problem);
      }));

    it('as a new version: the last good value keeps serving, and the problem is logged', () =>
      withHarness(async (h) => {
        const good = await h.putSlack();
        const provider = h.provider();
        await provider.start(['slack']);
        const goodId = provider.current('slack').versionId;

        await h.driver.put(h.name, text(canary('bad')));
        await elapse(h.clock, provider, POLL_MS, 5_000);
        expect(slackOf(provider)).toEqual(good);
        expect(provider.current('slack').versionId).toBe(goodId);
        expect(accepts(provider, good.signingSecret)).toBe(true);
        const logged = h.logs.records().find((r) => r.msg === 'secret unusable');
        expect(logged).toMatchObject({ level: 'error', integration: 'slack', secret: h.name });
        expect(String(logged?.problems)).toMatch(problem);
        expect(String(logged?.reason)).toContain(h.name);

        const fixed = await h.putSlack();
        await elapse(h.clock, provider, POLL_MS, 5_000);
        expect(slackOf(provider)).toEqual(fixed);
      }));
  });
}

function leakCases(withHarness: WithHarness, options: SecretSourceContractOptions): void {
  it('across a rotation, a malformed version, an outage and a removal, no value reaches a log, an error, the audit or a metric', () =>
    withHarness(async (h) => {
      const provider = h.provider({ maxStaleSeconds: MAX_STALE_SECONDS });
      await provider.start(['slack']);
      await h.failure(() => provider.current('slack'));
      await h.putSlack();
      await elapse(h.clock, provider, POLL_MS, 5_000);
      await h.putSlack();
      await elapse(h.clock, provider, POLL_MS, 5_000);
      for (const { text } of malformedFor(options)) {
        await h.driver.put(h.name, text(canary('bad')));
        await elapse(h.clock, provider, POLL_MS, 5_000);
      }
      const { id, versions } = await describeCurrent(h);
      h.saw(versions);
      await h.failure(() => h.driver.source.getVersion(h.name, `${id}x`));
      if (!options.noOutage && h.driver.outage) {
        await h.putSlack();
        await h.driver.outage.begin();
        await elapse(h.clock, provider, (MAX_STALE_SECONDS + 60) * 1_000, 5_000);
        await h.failure(() => provider.current('slack'));
        await h.failure(() => h.driver.source.describe(h.name));
        await h.driver.outage.end();
        await elapse(h.clock, provider, POLL_MS, 5_000);
      }
      await h.driver.remove(h.name);
      await elapse(h.clock, provider, POLL_MS, 5_000);
      await h.failure(() => provider.current('slack'));
      await h.failure(() => h.driver.source.describe(h.name));
      // The harness then asserts: no canary in the logs, the audit, the metrics, the errors or the outputs.
      expect(h.logs.text().length).toBeGreaterThan(0);
    }));
}

function propertyCases(withHarness: WithHarness, runs: number, options: SecretSourceContractOptions): void {
  /** Printable text, any script, never blank (a blank env variable means "not set"). */
  const printable = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 64 })
    .filter((s) => s.trim() !== '' && !/[\p{Cc}\p{Cs}]/u.test(s));

  it('any printable secret value round-trips through put, describe and getVersion exactly', () =>
    withHarness(async (h) => {
      await fc.assert(
        fc.asyncProperty(printable, async (raw) => {
          // A source of fields holds the value as a field: it comes back as the same fields.
          const text = options.fieldsOnly ? JSON.stringify({ value: raw }) : raw;
          await h.driver.put(h.name, text);
          const { id } = await describeCurrent(h);
          expect(await h.driver.source.getVersion(h.name, id).then((v) => v.secretString.reveal())).toBe(
            text,
          );
        }),
        { numRuns: runs },
      );
    }));

  it('a value in a malformed variant never appears in the error, the logs or the audit', () =>
    withHarness(async (h) => {
      await fc.assert(
        fc.asyncProperty(printable, fc.constantFrom(...malformedFor(options)), async (tail, { text }) => {
          const secret = `${CANARY_MARK}-${tail}`;
          await h.driver.put(h.name, text(secret));
          const provider = h.provider();
          await provider.start(['slack']);
          const error = await h.failure(() => provider.current('slack'));
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect(error.message).toContain(h.name);
          provider.stop();
          assertNoCanary({ error, logs: h.logs.text() }, [secret]);
        }),
        { numRuns: runs },
      );
    }));
}

/** A pattern matching `text` literally. */
function named(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}
