import type { AuditBrief } from '../../audit/records.js';
import type { DetectionsConfig } from '../config.js';
import type { Detection } from '../detection.js';
import { denialsRule } from './denials.js';
import { firstUseRule } from './first-use.js';
import { massDestructiveRule } from './mass-destructive.js';
import { offHoursRule } from './off-hours.js';
import type { AuditRule, TrailRecord } from './rule.js';
import { unexpectedVersionRule } from './unexpected-version.js';

export interface EngineOptions {
  detections: DetectionsConfig;
  /** `access.admins`: whose hours `offHours` learns. */
  admins: readonly string[];
  /**
   * Secrets Manager's LastRotatedDate of a secret (epoch ms), for `unexpectedSecretVersion`;
   * undefined with another source, which leaves that rule out.
   */
  lastRotatedAt?: (secret: string) => Promise<number | undefined>;
}

/** The rules that run on every record, as configured (each left out when `off`). */
export function auditRules(options: EngineOptions): AuditRule[] {
  const d = options.detections;
  const rules: AuditRule[] = [];
  if (!d.denials.off) rules.push(denialsRule({ count: d.denials.count, withinMs: d.denials.within }));
  if (!d.firstUse.off) rules.push(firstUseRule({ minHistory: d.firstUse.minHistory }));
  if (!d.offHours.off)
    rules.push(offHoursRule({ admins: options.admins, minHistory: d.offHours.minHistory }));
  if (!d.massDestructive.off)
    rules.push(
      massDestructiveRule({
        count: d.massDestructive.count,
        withinMs: d.massDestructive.within,
        actions: d.massDestructive.actions,
      }),
    );
  if (!d.unexpectedSecretVersion.off && options.lastRotatedAt)
    rules.push(unexpectedVersionRule({ lastRotatedAt: options.lastRotatedAt }));
  return rules;
}

/**
 * Runs audit records through the rules: history to learn from (nothing reported), then each new
 * record once, in order. Pure over its input, so a recorded stream and a fake clock test it.
 * A record is given as its brief unless {@link wants} says it must be whole: either way, the same
 * detections.
 */
export class DetectionEngine {
  readonly #rules: readonly AuditRule[];

  constructor(options: EngineOptions) {
    this.#rules = auditRules(options);
  }

  get rules(): readonly string[] {
    return this.#rules.map((r) => r.name);
  }

  /**
   * Whether the record must be given whole to the next `learn` or `check` (a rule reads its details,
   * or the brief says it may be unreadable: the whole read says so). Asked right before that call.
   */
  wants(brief: AuditBrief): boolean {
    if (brief.unreadable) return true;
    for (const rule of this.#rules) if (rule.wants?.(brief)) return true;
    return false;
  }

  learn(record: TrailRecord): void {
    if (record.unreadable) return;
    for (const rule of this.#rules) rule.learn?.(record);
  }

  /**
   * What the rules find in the record, in rule order: at once (an array) unless a rule must wait
   * (the secret-version rule on a version change), so the tail's loop does not wait a turn per record.
   */
  check(record: TrailRecord): Detection[] | Promise<Detection[]> {
    if (record.unreadable) return [];
    const found: Detection[] = [];
    for (const [k, rule] of this.#rules.entries()) {
      const out = rule.check(record);
      if (!Array.isArray(out)) return this.#checkRest(record, found, out, k + 1);
      if (out.length > 0) found.push(...out);
    }
    return found;
  }

  /** `check` from the rule that must wait on: its findings, then the rules after it. */
  async #checkRest(
    record: TrailRecord,
    found: Detection[],
    waiting: Promise<Detection[]>,
    next: number,
  ): Promise<Detection[]> {
    found.push(...(await waiting));
    for (const rule of this.#rules.slice(next)) {
      const out = rule.check(record);
      found.push(...(Array.isArray(out) ? out : await out));
    }
    return found;
  }
}
