import type { AuditRecord } from '../../audit/records.js';
import type { Clock } from '../../clock.js';
import type { Component } from '../../component.js';
import type { Logger } from '../../log.js';
import type { AuditStore, LeaseStore } from '../../store/state.js';
import { finishedWithin } from '../../time/deadline.js';
import type { DetectionsConfig } from '../config.js';
import type { Detection, SecurityReporter } from '../detection.js';
import { checkNewestLinks } from './chain-check.js';
import { DetectionEngine, type EngineOptions } from './engine.js';
import type { RequestRefusals } from './refusals.js';
import { signatureFailuresRule } from './signature-failures.js';

const DAY = 86_400_000;
/** How often the trail is read for new records. */
export const TAIL_EVERY_MS = 5_000;
/** The lease that makes one replica the one that decides. */
export const DETECTIONS_LEASE = 'security-detections';
/** Records read per call (the store's bound is 1,000). */
const PAGE = 500;
/** Pages per pass: a pass is bounded; what is left is read by the next one. */
const PAGES_PER_PASS = 20;
/** History learned at most (records): beyond it, the newest of the window are learned. */
const MAX_LEARN = 200_000;

export interface DetectionsTailDeps {
  audit: Pick<AuditStore, 'readAfter' | 'firstSeqSince' | 'head'>;
  leases: LeaseStore;
  owner: string;
  /** `flush`, when it has one, is called each pass (a rate limit's summary of the hour before). */
  reporter: SecurityReporter & { flush?(): Promise<void> };
  detections: DetectionsConfig;
  admins: readonly string[];
  lastRotatedAt?: EngineOptions['lastRotatedAt'];
  /** Refused requests on this replica, for `signatureFailures`. */
  refusals?: RequestRefusals;
  clock: Clock;
  log: Logger;
  everyMs?: number;
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Detections on the live audit stream (README, "Security reviews and detections"). Off the request
 * path: every few seconds the replica holding the `security-detections` lease reads the records
 * after the last one it saw (`readAfter`) and runs them through the rules; every detection goes to
 * the security reporter (deduplicated and rate-limited there). On taking the lease it learns the
 * trail's last `firstUse.learnDays` days (bounded, yielding between pages) and starts after the head:
 * what was before is learned, never reported, so a restart re-reports nothing. Every `chain.every`
 * it checks the links of the newest `chain.records`. Refused requests are counted on every replica.
 */
export class DetectionsTail implements Component {
  readonly name = 'security-detections';
  readonly #d: DetectionsTailDeps;
  #engine: DetectionEngine | undefined;
  #cursor = 0;
  #nextChainAt = 0;
  #cancel: (() => void) | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;
  #unlisten: (() => void) | undefined;
  readonly #reports = new Set<Promise<void>>();

  constructor(deps: DetectionsTailDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    const sig = this.#d.detections.signatureFailures;
    if (!sig.off && this.#d.refusals) {
      const rule = signatureFailuresRule({ count: sig.count, withinMs: sig.within, replica: this.#d.owner });
      this.#unlisten = this.#d.refusals.listen((source) => {
        const found = rule.refused(source, this.#d.clock.now());
        if (found) this.#report(found);
      });
    }
    this.#schedule();
  }

  async stop(deadline: number): Promise<boolean> {
    this.#stopped = true;
    this.#cancel?.();
    this.#unlisten?.();
    const work = Promise.all([this.#running, ...this.#reports]);
    const done = await finishedWithin(this.#d.clock, work, deadline - this.#d.clock.now());
    if (this.#engine) await this.#d.leases.release(DETECTIONS_LEASE, this.#d.owner).catch(() => undefined);
    return done;
  }

  /** Resolves once every report handed on so far has been handled (tests, the bench). */
  async idle(): Promise<void> {
    while (this.#reports.size > 0) await Promise.all([...this.#reports]);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#cancel = this.#d.clock.schedule(() => {
      this.#running = this.pass()
        .catch((error: unknown) =>
          this.#d.log.warn({ err: error }, 'the detections pass failed; the next one retries'),
        )
        .finally(() => this.#schedule());
    }, this.#d.everyMs ?? TAIL_EVERY_MS);
  }

  /** One pass: the records since the last, through the rules. Returns how many were checked. */
  async pass(): Promise<number> {
    const d = this.#d;
    const every = d.everyMs ?? TAIL_EVERY_MS;
    if (!(await d.leases.acquire(DETECTIONS_LEASE, d.owner, 3 * every))) {
      // Another replica decides; should this one take over later, it learns afresh.
      this.#engine = undefined;
      return 0;
    }
    if (!this.#engine) await this.#learn();
    const engine = this.#engine as DetectionEngine;
    let checked = 0;
    for (let page = 0; page < PAGES_PER_PASS && !this.#stopped; page++) {
      const records = await d.audit.readAfter(this.#cursor, PAGE);
      for (const record of records) {
        for (const found of await engine.check(record)) this.#report(found);
        this.#cursor = record.seq;
        checked += 1;
      }
      if (records.length < PAGE) break;
      await yieldToLoop();
    }
    await this.#checkChain();
    await d.reporter.flush?.();
    return checked;
  }

  async #learn(): Promise<void> {
    const d = this.#d;
    const engine = new DetectionEngine({
      detections: d.detections,
      admins: d.admins,
      ...(d.lastRotatedAt ? { lastRotatedAt: d.lastRotatedAt } : {}),
    });
    const head = d.audit.head()?.seq ?? 0;
    const since = new Date(d.clock.now() - d.detections.firstUse.learnDays * DAY).toISOString();
    const first = (await d.audit.firstSeqSince(since)) ?? head + 1;
    let after = Math.max(first - 1, head - MAX_LEARN);
    let learned = 0;
    while (after < head) {
      const page: AuditRecord[] = await d.audit.readAfter(after, 1_000);
      if (page.length === 0) break;
      for (const record of page) if (record.seq <= head) engine.learn(record);
      after = (page.at(-1) as AuditRecord).seq;
      learned += page.length;
      await yieldToLoop();
    }
    this.#engine = engine;
    this.#cursor = head;
    this.#nextChainAt = d.clock.now();
    d.log.info(
      { learned, from: first, head, rules: engine.rules },
      'detections took the lease and learned the trail',
    );
  }

  async #checkChain(): Promise<void> {
    const { chain } = this.#d.detections;
    const now = this.#d.clock.now();
    if (chain.off || now < this.#nextChainAt) return;
    this.#nextChainAt = now + chain.every;
    const found = await checkNewestLinks(this.#d.audit, chain.records, now);
    if (found) this.#report(found);
  }

  /** Hands a detection to the reporter without holding the pass (a slow Slack must not stall the tail). */
  #report(detection: Detection): void {
    const work = this.#d.reporter
      .report(detection)
      .catch((error: unknown) =>
        this.#d.log.error(
          { err: error, rule: detection.rule, key: detection.key },
          'a detection could not be reported',
        ),
      );
    const tracked = work.finally(() => this.#reports.delete(tracked));
    this.#reports.add(tracked);
  }
}
