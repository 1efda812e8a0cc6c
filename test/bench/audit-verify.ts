import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChainKey } from '../../src/audit/chain.js';
import { openSqliteState } from '../../src/store/sqlite.js';

const RECORDS = Number(process.env.BENCH_AUDIT_RECORDS ?? 100_000);

/**
 * `npm run bench -- audit-verify`: a keyed (HMAC) trail of 100,000 records like opsbot's (command
 * records with arguments, ids and versions), appended through the store, then verified end to end;
 * prints how long verification took and the longest the event loop went without a turn meanwhile.
 */
export async function benchAuditVerify(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-audit-'));
  const state = openSqliteState({ path: join(dir, 'opsbot.db') });
  try {
    const key: ChainKey = {
      version: '3f2c9a1b-8d4e-4c55-9b1a-0e7d6c5b4a39',
      key: new Uint8Array(randomBytes(32)),
    };
    state.audit.attach({
      keys: { current: () => key, get: (v) => (v === key.version ? key.key : undefined) },
    });
    const appendStarted = performance.now();
    for (let i = 0; i < RECORDS; i += 500) {
      const batch = [];
      for (let j = i; j < Math.min(RECORDS, i + 500); j++) batch.push(state.audit.append(sampleEvent(j)));
      await Promise.all(batch);
    }
    const appendMs = performance.now() - appendStarted;

    let last = performance.now();
    let stallMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      stallMs = Math.max(stallMs, now - last);
      last = now;
    }, 1);
    const started = performance.now();
    const check = await state.audit.verify();
    const verifyMs = performance.now() - started;
    clearInterval(ticker);
    if (!check.ok || check.checked !== RECORDS)
      throw new Error(`the benchmark trail did not verify: ${JSON.stringify(check)}`);
    const label = RECORDS === 100_000 ? '100k' : String(RECORDS);
    console.log(`audit.append_${label}: ${Math.round(appendMs)} ms`);
    console.log(`audit.verify_${label}: ${Math.round(verifyMs)} ms`);
    console.log(`audit.verify_${label}.longest_event_loop_stall: ${stallMs.toFixed(1)} ms`);
  } finally {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sampleEvent(i: number) {
  return {
    action: i % 3 === 0 ? 'gh:issue create' : 'gh:pr list',
    outcome: (i % 3 === 0 ? 'intent' : 'success') as 'intent' | 'success',
    actor: `U0USER${i % 50}`,
    details: {
      kind: 'command',
      team: 'T0ACME',
      channel: 'C0DEV',
      args: `repo=acme/web title=[${i % 200} chars]`,
      decision: 'allowed',
      result: i % 3 === 0 ? undefined : 'ok',
      latencyMs: i % 97,
      credentials: 'slack@1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b',
      requestId: (i * 2_654_435_761).toString(16).slice(-8),
    },
  };
}
