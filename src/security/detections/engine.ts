import type { AuditRecord } from '../../audit/records.js';
import type { DetectionsConfig } from '../config.js';
import type { Detection } from '../detection.js';
import { denialsRule } from './denials.js';
import { firstUseRule } from './first-use.js';
import { massDestructiveRule } from './mass-destructive.js';
import { offHoursRule } from './off-hours.js';
import type { AuditRule } from './rule.js';
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
 */
export class DetectionEngine {
  readonly #rules: readonly AuditRule[];

  constructor(options: EngineOptions) {
    this.#rules = auditRules(options);
  }

  get rules(): readonly string[] {
    return this.#rules.map((r) => r.name);
  }

  learn(record: AuditRecord): void {
    if (record.unreadable) return;
    for (const rule of this.#rules) rule.learn?.(record);
  }

  async check(record: AuditRecord): Promise<Detection[]> {
    if (record.unreadable) return [];
    const found: Detection[] = [];
    for (const rule of this.#rules) {
      const out = rule.check(record);
      found.push(...(Array.isArray(out) ? out : await out));
    }
    return found;
  }
}
