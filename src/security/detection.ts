/**
 * Something in opsbot's own records (or in CloudTrail's, about opsbot's secrets) that looks wrong:
 * what one rule found, with the evidence, for the security channel. Never a secret value.
 */
export interface Detection {
  /** The rule that found it: `denials`, `firstUse`, `offHours`, `massDestructive`, `chain`, `unexpectedSecretVersion`, `signatureFailures`, `secretAccess`. */
  rule: string;
  /**
   * Two detections with one key are one event (deduplicated: reported once), e.g.
   * `denials:U0GUEST:<first seq>`, `secretAccess:<CloudTrail eventID>`.
   */
  key: string;
  /** One line, plain text (escaped when rendered): what happened. */
  title: string;
  /** Who did it: a Slack user id, `opsbot`, or a principal ARN (CloudTrail). */
  actor?: string;
  /** When (ISO), of the triggering record or event. */
  at: string;
  /** The audit sequence numbers that show it (at most 50), oldest first. */
  evidence: number[];
  /** A few names and numbers (action, count, window, secret name, source IP…): never a value. */
  details: Record<string, string | number | boolean>;
}

/** Where detections go: the security channel (else each admin), deduplicated and rate-limited. */
export interface SecurityReporter {
  /** Reports it unless a detection with its key was reported already; resolves once handled. */
  report(detection: Detection): Promise<void>;
}
