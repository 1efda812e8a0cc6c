import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditTrail } from '../audit/sink.js';
import type { Clock } from '../clock.js';
import type { CredentialProvider } from '../credentials/provider.js';
import type { SecretAdmin, SecretStatus } from '../credentials/secret-admin.js';
import { STAGE } from '../credentials/source.js';
import { ErrorCode, UserFacingError } from '../errors.js';
import type { Logger } from '../log.js';
import { type RotationKind, RotationNeedsPersonError } from '../rotation/kind.js';
import { escapeText } from '../text/escape.js';
import { cappedExponentialDelay } from '../time/backoff.js';
import { sleep } from '../time/deadline.js';
import { type SecretRow, secretInventory } from './inventory.js';

/** How often a rotation is checked while it runs, and for how long at most. */
export const FOLLOW_EVERY_MS = 2_000;
/** The first look at a rotation just begun; doubling up to {@link FOLLOW_EVERY_MS}. */
const FOLLOW_FIRST_MS = 250;
export const FOLLOW_AT_MOST_MS = 5 * 60_000;
/** How long the bot is given to load the new version once it is AWSCURRENT. */
const SERVE_AT_MOST_MS = 60_000;

/** Where a rotation is, as `/opsbot rotate` shows it. */
export type RotationPhase =
  /** RotateSecret took it: the token is AWSPENDING, the rotation function's createSecret is next. */
  | 'started'
  /** AWSPENDING holds the new value: set at the vendor and tested before it is promoted. */
  | 'testing'
  /** The new version is AWSCURRENT. */
  | 'current';

export interface BegunRotation {
  /** `github`. */
  short: string;
  /** `opsbot/github`. */
  name: string;
  /** The ClientRequestToken: the new version's id. */
  token: string;
  /** AWSCURRENT before the rotation. */
  previous: string | undefined;
  emergency: boolean;
  /** A person put the new value (GitHub key, Jira token): the rotation promotes it. */
  personMade: boolean;
  /** When RotateSecret was called (epoch ms): an older failure of the same token is not this one's. */
  startedAt: number;
}

export type RotationOutcome =
  | {
      status: 'current';
      rotation: BegunRotation;
      /** The bot serves the new version (its provider reports it). */
      botServes: boolean;
      /** The versions the bot still accepts on inbound requests (emergency: the new one alone). */
      accepted: string[];
    }
  | { status: 'stopped'; rotation: BegunRotation; phase: RotationPhase; reason: string };

export interface SecretRotationDeps {
  admin: SecretAdmin;
  provider: CredentialProvider;
  /** The rotation function's kinds, by secret short name. */
  kinds: ReadonlyMap<string, RotationKind>;
  clock: Clock;
  log: Logger;
  /** Where `startRotation` writes its intent and outcome (commands have theirs written by the pipeline). */
  audit: AuditTrail;
  followEveryMs?: number;
  followAtMostMs?: number;
}

/**
 * opsbot's side of rotating its secrets: the inventory `/opsbot secrets` shows, starting a rotation
 * through Secrets Manager's RotateSecret (the rotation function does the work), and following it
 * until the bot serves the new version. Imports no Slack: `/opsbot rotate`, the reminder's button
 * and the leak watcher all come through here.
 */
export class SecretRotation {
  readonly #d: SecretRotationDeps;

  constructor(deps: SecretRotationDeps) {
    this.#d = deps;
  }

  get available(): boolean {
    return this.#d.admin.source === 'aws';
  }

  /** The secrets opsbot can rotate (short names). */
  rotatable(): string[] {
    return [...this.#d.kinds.keys()].filter((k) => this.#d.provider.names().includes(k));
  }

  inventory(): Promise<SecretRow[]> {
    return secretInventory({ ...this.#d, now: () => this.#d.clock.now() });
  }

  /**
   * Checks and starts a rotation: the secret must be one opsbot rotates, exist, and have rotation
   * turned on; a person-made value must already be AWSPENDING (its version id is the token). With
   * `emergency`, the secret is tagged first. Throws a UserFacingError saying what to do otherwise.
   */
  async begin(short: string, options: { emergency: boolean }): Promise<BegunRotation> {
    const { admin, provider, kinds } = this.#d;
    const kind = kinds.get(short);
    if (!kind || !provider.names().includes(short)) {
      throw new UserFacingError(
        `opsbot does not rotate \`${short}\`: it rotates ${this.rotatable()
          .map((k) => `\`${k}\``)
          .join(', ')}.`,
      );
    }
    const name = provider.secretName(short);
    const status = await admin.describe(name);
    if (!status) {
      throw new UserFacingError(`\`${name}\` does not exist in Secrets Manager: create it first.`, {
        code: ErrorCode.NotConfigured,
      });
    }
    if (!status.rotationEnabled) {
      throw new UserFacingError(
        `Rotation is not turned on for \`${name}\`: deploy the stack with its rotation schedule (it attaches opsbot's rotation function), then run this again. opsbot never turns rotation on itself.`,
        { code: ErrorCode.NotConfigured },
      );
    }
    const current = await provider.get(short);
    const personMade = !kind.automatic(current.value.reveal());
    let token: string = randomUUID();
    if (personMade) {
      const pending = status.pendingVersion;
      if (!pending || !(await admin.hasValue(name, pending))) {
        throw new UserFacingError(
          new RotationNeedsPersonError(name, kind.personMakes ?? `${kind.spec.title} value`).message,
        );
      }
      token = pending;
    }
    const startedAt = this.#d.clock.now();
    await admin.rotate(name, { emergency: options.emergency, token });
    return {
      short,
      name,
      token,
      previous: status.currentVersion,
      emergency: options.emergency,
      personMade,
      startedAt,
    };
  }

  /**
   * Follows a begun rotation (DescribeSecret after 0.25, 0.5, 1 s, then every 2 s; at most 5
   * minutes: the rotation function usually finishes within half a second) until its version is
   * AWSCURRENT and the bot serves it, or it stopped; `onPhase` hears each new phase once.
   */
  async follow(
    rotation: BegunRotation,
    onPhase: (phase: RotationPhase) => Promise<void> = async () => undefined,
  ): Promise<RotationOutcome> {
    const { clock } = this.#d;
    const every = this.#d.followEveryMs ?? FOLLOW_EVERY_MS;
    const until = clock.now() + (this.#d.followAtMostMs ?? FOLLOW_AT_MOST_MS);
    let phase: RotationPhase = 'started';
    let told: RotationPhase | undefined;
    const pace = { baseMs: Math.min(every, FOLLOW_FIRST_MS), capMs: every };
    for (let check = 0; ; check++) {
      const status = await this.#d.admin.describe(rotation.name);
      if (!status) return stopped(rotation, phase, `\`${rotation.name}\` no longer exists.`);
      if (status.currentVersion === rotation.token) phase = 'current';
      else if (status.failure?.token === rotation.token && status.failure.at >= rotation.startedAt)
        return stopped(rotation, phase, failureText(status));
      else if (!(status.versions.get(rotation.token) ?? []).includes(STAGE.pending))
        return stopped(rotation, phase, replacedText(status, rotation));
      else if (phase === 'started' && (await this.#d.admin.hasValue(rotation.name, rotation.token)))
        phase = 'testing';
      if (phase !== told) {
        told = phase;
        await onPhase(phase);
      }
      if (phase === 'current') break;
      if (clock.now() >= until) return stopped(rotation, phase, timeoutText(phase, rotation));
      await sleep(clock, cappedExponentialDelay(check, pace));
    }
    return this.#served(rotation, every);
  }

  /**
   * For opsbot itself (the leak watcher): an audited rotation, intent first, followed to the end.
   * `actor` is `opsbot` or the Slack user it acts for.
   */
  async startRotation(
    short: string,
    options: { emergency: boolean; actor: string; reason: string },
  ): Promise<RotationOutcome> {
    const event = (outcome: AuditEvent['outcome'], details: AuditEvent['details'] = {}): AuditEvent => ({
      action: 'opsbot:rotate',
      outcome,
      actor: options.actor,
      details: {
        secret: short,
        emergency: options.emergency,
        reason: options.reason.slice(0, 200),
        ...details,
      },
    });
    await this.#d.audit.record(event('intent'));
    // The outcome is stored before the caller hears it (a lost record is logged by the trail).
    const close = (e: AuditEvent) => this.#d.audit.record(e, Number.POSITIVE_INFINITY).catch(() => undefined);
    try {
      const outcome = await this.follow(await this.begin(short, { emergency: options.emergency }));
      await close(
        event(outcome.status === 'current' ? 'success' : 'error', {
          version: outcome.rotation.token,
          result: outcome.status,
        }),
      );
      return outcome;
    } catch (error) {
      await close(
        event('error', { result: error instanceof UserFacingError ? error.message.slice(0, 200) : 'failed' }),
      );
      throw error;
    }
  }

  /** Asks the provider to look now, until it reports the new version (bounded). */
  async #served(rotation: BegunRotation, every: number): Promise<RotationOutcome> {
    const { provider, clock } = this.#d;
    const until = clock.now() + SERVE_AT_MOST_MS;
    const serving = () => {
      try {
        return provider.current(rotation.short).versionId;
      } catch {
        return undefined;
      }
    };
    while (serving() !== rotation.token && clock.now() < until) {
      const at = serving();
      if (at) await provider.checkNow(rotation.short);
      if (serving() !== rotation.token) await sleep(clock, Math.min(every, 500));
    }
    const accepted = provider.inboundCandidates(rotation.short).map((c) => c.versionId);
    return { status: 'current', rotation, botServes: serving() === rotation.token, accepted };
  }
}

function stopped(rotation: BegunRotation, phase: RotationPhase, reason: string): RotationOutcome {
  return { status: 'stopped', rotation, phase, reason };
}

function failureText(status: SecretStatus): string {
  const current = status.currentVersion ? ` (version \`${short(status.currentVersion)}\`)` : '';
  return `The rotation function stopped: ${escapeText(status.failure?.message ?? 'no reason given')}. AWSCURRENT${current} still serves.`;
}

function replacedText(status: SecretStatus, rotation: BegunRotation): string {
  return `Version \`${short(rotation.token)}\` is no longer AWSPENDING: another rotation took over. \`/opsbot secrets\` shows where \`${rotation.name}\` stands${status.currentVersion ? ` (AWSCURRENT is \`${short(status.currentVersion)}\`)` : ''}.`;
}

function timeoutText(phase: RotationPhase, rotation: BegunRotation): string {
  const minutes = Math.round(FOLLOW_AT_MOST_MS / 60_000);
  return phase === 'started'
    ? `After ${minutes} minutes the rotation function has not made the new value: check that it is attached to \`${rotation.name}\` and read its log. AWSCURRENT still serves.`
    : `After ${minutes} minutes the new value is still AWSPENDING: the rotation function's setSecret or testSecret refused it (its log says why). AWSCURRENT still serves.`;
}

/** The first 8 characters of a version id. */
export const short = (versionId: string) => versionId.slice(0, 8);
