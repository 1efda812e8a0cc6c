import type { AuditBrief } from '../../audit/records.js';
import { UNUSED_AFTER_MS } from '../../audit/writer-chains.js';
import type { Clock } from '../../clock.js';
import type { Component } from '../../component.js';
import type { Logger } from '../../log.js';
import type { AuditStore, LeaseStore, MessageRefStore } from '../../store/state.js';
import { finishedWithin } from '../../time/deadline.js';
import { PeriodicPass } from '../../time/periodic.js';
import type { DetectionsConfig } from '../config.js';
import type { Detection, SecurityReporter } from '../detection.js';
import { checkNewestLinks } from './chain-check.js';
import { DetectionEngine, type EngineOptions } from './engine.js';
import type { RequestRefusals } from './refusals.js';
import { signatureFailuresRule } from './signature-failures.js';
import { WholeRecords } from './whole-records.js';

const DAY = 86_400_000;
/** How often the trail is read for new records while records come. */
export const TAIL_EVERY_MS = 5_000;
/**
 * While nothing new comes (no record checked, none written by this process), the reads back off,
 * doubling up to this: an idle replica reads the store about once a minute, not every 5 s.
 */
export const TAIL_IDLE_MAX_MS = 60_000;
/** The lease that makes one replica the one that decides. */
export const DETECTIONS_LEASE = 'security-detections';
/** Records read per call (the store's bound is 1,000). */
const PAGE = 500;
/** Pages per pass: a pass is bounded; what is left is read by the next one. */
const PAGES_PER_PASS = 20;
/** History learned at most (records): beyond it, the newest of the window are learned. */
const MAX_LEARN = 200_000;

export interface DetectionsTailDeps {
  audit: Pick<AuditStore, 'readAfter' | 'readBriefAfter' | 'firstSeqSince' | 'head'>;
  leases: LeaseStore;
  owner: string;
  /** `flush`, when it has one, is called each pass (a rate limit's summary of the hour before). */
  reporter: SecurityReporter & { flush?(): Promise<void> };
  detections: DetectionsConfig;
  admins: readonly string[];
  lastRotatedAt?: EngineOptions['lastRotatedAt'];
  /** Refused requests on this replica, for `signatureFailures`. */
  refusals?: RequestRefusals;
  /**
   * Where the last record checked is kept across replicas (one message ref): a replica that takes
   * the lease over checks from there, so nothing written while no one held it goes unchecked.
   */
  cursor?: Pick<MessageRefStore, 'get' | 'putIfAbsent' | 'compareAndSet'>;
  clock: Clock;
  log: Logger;
  everyMs?: number;
}

/** The message ref holding the last record checked (`data`: `{"seq":N}`). */
const CURSOR_KEY = 'security-detections:cursor';
const CURSOR_TTL_MS = 30 * 86_400_000; // the store's longest
/** A new holder checks at most this many records it missed (older ones it only learns). */
const MAX_CATCH_UP = 10_000;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** What the passes have cost so far (the benchmark reads it; `busyMs` leaves out the turns given to the loop). */
export interface TailStats {
  passes: number;
  records: number;
  busyMs: number;
  /**
   * Of `busyMs`, the time spent reading and checking records (each page from its read to its last
   * check: the store answers synchronously on SQLite, so no other work runs in between); the rest
   * is per pass (the lease, the cursor, the chain check, learning).
   */
  recordsMs: number;
}

/**
 * Detections on the live audit stream (README, "Security reviews and detections"). Off the request
 * path: every few seconds the replica holding the `security-detections` lease reads the records
 * after the last one it saw and runs them through the rules: as briefs (`readBriefAfter`), each
 * read whole (`readAfter`) only when the rules want it (its details); every detection goes to
 * the security reporter (deduplicated and rate-limited there). On taking the lease it learns the
 * trail's last `firstUse.learnDays` days (bounded, yielding between pages) up to where checking
 * starts: the last holder's cursor (kept in State after each pass), else this process's start, so
 * nothing written while no replica held the lease goes unchecked and nothing is reported twice. Every `chain.every`
 * it checks the links of the newest `chain.records`. Refused requests are counted on every replica.
 */
export class DetectionsTail implements Component {
  readonly name = 'security-detections';
  readonly #d: DetectionsTailDeps;
  #engine: DetectionEngine | undefined;
  #cursor = 0;
  #startHead = 0;
  /** The cursor's stored version (compare-and-set), once read or written. */
  #cursorVersion: number | undefined;
  #nextChainAt = 0;
  /** The wait before the next pass (backs off while idle), and the head this process knew at the last. */
  #nextMs: number;
  #lastHead = 0;
  #lastChecked = 0;
  /** The first number after the cursor with no record (writer chains leave some unused), since when. */
  #gap: { from: number; seenAt: number } | undefined;
  readonly #loop: PeriodicPass;
  #stopped = false;
  #unlisten: (() => void) | undefined;
  readonly #reports = new Set<Promise<void>>();
  readonly #stats: TailStats = { passes: 0, records: 0, busyMs: 0, recordsMs: 0 };
  /** Time spent giving the event loop a turn during the current pass (not the pass's cost). */
  #yieldedMs = 0;

  constructor(deps: DetectionsTailDeps) {
    this.#d = deps;
    this.#nextMs = deps.everyMs ?? TAIL_EVERY_MS;
    this.#loop = new PeriodicPass({
      clock: deps.clock,
      everyMs: deps.everyMs ?? TAIL_EVERY_MS,
      nextMs: () => this.#paced(),
      pass: () => this.pass(),
      failed: (error) => deps.log.warn({ err: error }, 'the detections pass failed; the next one retries'),
    });
  }

  async start(): Promise<void> {
    // Records written from now on are checked even if the first pass comes later: the first
    // holder's learning stops here (unless a cursor says where the last holder stopped).
    this.#startHead = this.#d.audit.head()?.seq ?? 0;
    const sig = this.#d.detections.signatureFailures;
    if (!sig.off && this.#d.refusals) {
      const rule = signatureFailuresRule({ count: sig.count, withinMs: sig.within, replica: this.#d.owner });
      this.#unlisten = this.#d.refusals.listen((source) => {
        const found = rule.refused(source, this.#d.clock.now());
        if (found) this.#report(found);
      });
    }
    this.#loop.start();
  }

  async stop(deadline: number): Promise<boolean> {
    this.#stopped = true;
    this.#unlisten?.();
    const passEnded = await this.#loop.stop(deadline);
    const reported = await finishedWithin(
      this.#d.clock,
      Promise.all([...this.#reports]),
      deadline - this.#d.clock.now(),
    );
    const done = passEnded && reported;
    if (this.#engine) await this.#d.leases.release(DETECTIONS_LEASE, this.#d.owner).catch(() => undefined);
    return done;
  }

  /** Resolves once every report handed on so far has been handled (tests, the bench). */
  async idle(): Promise<void> {
    while (this.#reports.size > 0) await Promise.all([...this.#reports]);
  }

  /** Passes, records checked and the time they held the event loop, so far. */
  stats(): TailStats {
    return { ...this.#stats };
  }

  /** One pass: the records since the last, through the rules. Returns how many were checked. */
  async pass(): Promise<number> {
    const started = performance.now();
    this.#yieldedMs = 0;
    try {
      const checked = await this.#pass();
      this.#stats.records += checked;
      this.#lastChecked = checked;
      return checked;
    } finally {
      this.#stats.passes += 1;
      this.#stats.busyMs += performance.now() - started - this.#yieldedMs;
    }
  }

  /**
   * The wait before the next pass: the base pace while records come (checked by the last pass, or
   * written by this process since), else twice the last wait, up to {@link TAIL_IDLE_MAX_MS}.
   */
  #paced(): number {
    const base = this.#d.everyMs ?? TAIL_EVERY_MS;
    const head = this.#d.audit.head()?.seq ?? 0;
    const moved = head !== this.#lastHead || this.#lastChecked > 0 || this.#gap !== undefined;
    this.#lastHead = head;
    this.#nextMs = moved ? base : Math.min(this.#nextMs * 2, Math.max(base, TAIL_IDLE_MAX_MS));
    return this.#nextMs;
  }

  /** Gives other work a turn between pages; the time it takes is not the pass's. */
  async #yield(): Promise<void> {
    const started = performance.now();
    await yieldToLoop();
    this.#yieldedMs += performance.now() - started;
  }

  async #pass(): Promise<number> {
    const d = this.#d;
    const every = d.everyMs ?? TAIL_EVERY_MS;
    // Long enough to outlast the idle pace: the holder keeps it while it backs off.
    if (!(await d.leases.acquire(DETECTIONS_LEASE, d.owner, 3 * Math.max(every, TAIL_IDLE_MAX_MS)))) {
      // Another replica decides; should this one take over later, it learns afresh.
      this.#engine = undefined;
      return 0;
    }
    if (!this.#engine) await this.#learn();
    const engine = this.#engine as DetectionEngine;
    let checked = 0;
    for (let page = 0; page < PAGES_PER_PASS && !this.#stopped; page++) {
      const pageStarted = performance.now();
      const briefs = await d.audit.readBriefAfter(this.#cursor, PAGE);
      const records = new WholeRecords(d.audit, briefs, (b) => engine.wants(b));
      let waiting = false;
      for (const [i, brief] of briefs.entries()) {
        waiting = this.#waitsBefore(brief.seq);
        if (waiting) break;
        const record = engine.wants(brief) ? await records.whole(i) : brief;
        const out = engine.check(record);
        for (const found of Array.isArray(out) ? out : await out) this.#report(found);
        this.#cursor = brief.seq;
        checked += 1;
      }
      this.#stats.recordsMs += performance.now() - pageStarted;
      if (waiting || briefs.length < PAGE) break;
      await this.#yield();
    }
    if (checked > 0) await this.#saveCursor();
    await this.#checkChain();
    await d.reporter.flush?.();
    return checked;
  }

  /**
   * Whether to stop before the record numbered `seq`: numbers between the cursor and it have no
   * record. A writer may still be storing them (it reserved them a moment ago), so the tail waits
   * there, and goes past only once they have had no record for {@link UNUSED_AFTER_MS}: by then
   * their writer has given them up (SQLite numbers without gaps, so this is DynamoDB's writer chains).
   */
  #waitsBefore(seq: number): boolean {
    const from = this.#cursor + 1;
    if (seq === from) {
      this.#gap = undefined;
      return false;
    }
    const now = this.#d.clock.now();
    if (this.#gap?.from !== from) this.#gap = { from, seenAt: now };
    if (now - this.#gap.seenAt < UNUSED_AFTER_MS) return true;
    this.#gap = undefined;
    return false;
  }

  /** Where the last holder stopped, if it said. */
  async #storedCursor(): Promise<number | undefined> {
    const ref = await this.#d.cursor?.get(CURSOR_KEY).catch(() => undefined);
    if (!ref?.data) return undefined;
    this.#cursorVersion = ref.version;
    const seq = (JSON.parse(ref.data) as { seq?: unknown }).seq;
    return typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 ? seq : undefined;
  }

  async #saveCursor(): Promise<void> {
    const store = this.#d.cursor;
    if (!store) return;
    const ref = { channel: '-', ts: '-', data: JSON.stringify({ seq: this.#cursor }) };
    try {
      if (this.#cursorVersion === undefined) {
        const put = await store.putIfAbsent(CURSOR_KEY, ref, CURSOR_TTL_MS);
        this.#cursorVersion = put.ref.version;
        if (put.created) return;
      }
      const next = await store.compareAndSet(CURSOR_KEY, this.#cursorVersion, ref);
      if (next) this.#cursorVersion = next.version;
      else this.#cursorVersion = (await store.get(CURSOR_KEY))?.version;
    } catch (error) {
      this.#d.log.warn({ err: error }, 'could not store where the detections stopped; the next pass retries');
    }
  }

  async #learn(): Promise<void> {
    const d = this.#d;
    const engine = new DetectionEngine({
      detections: d.detections,
      admins: d.admins,
      ...(d.lastRotatedAt ? { lastRotatedAt: d.lastRotatedAt } : {}),
    });
    const now = d.audit.head()?.seq ?? 0;
    // Learn up to where checking starts: the last holder's cursor, else this process's start;
    // at most MAX_CATCH_UP records before the head are left to check.
    const stored = await this.#storedCursor();
    const head = Math.max(Math.min(stored ?? this.#startHead, now), now - MAX_CATCH_UP, 0);
    const since = new Date(d.clock.now() - d.detections.firstUse.learnDays * DAY).toISOString();
    const first = (await d.audit.firstSeqSince(since)) ?? head + 1;
    let after = Math.max(first - 1, head - MAX_LEARN);
    let learned = 0;
    while (after < head) {
      const page = await d.audit.readBriefAfter(after, 1_000);
      if (page.length === 0) break;
      const records = new WholeRecords(d.audit, page, (b) => engine.wants(b));
      for (const [i, brief] of page.entries()) {
        if (brief.seq > head) break;
        engine.learn(engine.wants(brief) ? await records.whole(i) : brief);
      }
      after = (page.at(-1) as AuditBrief).seq;
      learned += page.length;
      await this.#yield();
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
