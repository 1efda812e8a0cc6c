/**
 * `npm run bench [-- name…]`: runs the named benchmarks (all by default); each prints
 * `name: value unit` lines.
 */

import { quietSqliteWarning } from '../../src/quiet-warnings.js';
import { benchCredentials } from './credentials.js';
import { benchLogRedaction } from './log-redaction.js';
import { benchSlack } from './slack.js';

const BENCHES: Record<string, () => Promise<void>> = {
  log: benchLogRedaction,
  credentials: benchCredentials,
  slack: benchSlack,
  attack: async () => (await import('./attack.js')).benchAttack(),
  'audit-verify': async () => (await import('./audit-verify.js')).benchAuditVerify(),
  alerts: async () => (await import('./alert-storm.js')).benchAlerts(),
  reaper: async () => (await import('./reaper.js')).benchReaper(),
  scale: async () => (await import('./scale.js')).benchScale(),
  'dd-alerts': async () => (await import('./dd-alerts.js')).benchDdAlerts(),
  leaks: async () => (await import('./leak-scan.js')).benchLeakScan(),
  rotation: async () => (await import('./rotation.js')).benchRotation(),
  vault: async () => (await import('./vault.js')).benchVault(),
  'access-review': async () => (await import('./access-review.js')).benchAccessReview(),
  detections: async () => (await import('./detections.js')).benchDetections(),
  intake: async () => (await import('./intake.js')).benchIntake(),
};

quietSqliteWarning();
const wanted = process.argv.slice(2).filter((a) => a !== '--');
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark(s): ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`,
  );
  process.exit(2);
}
for (const name of wanted.length ? wanted : Object.keys(BENCHES)) {
  await BENCHES[name]?.();
}
