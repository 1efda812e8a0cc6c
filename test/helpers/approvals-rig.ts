import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ApprovalRequests, type StoredRequest } from '../../src/approvals/request.js';
import type { ApprovalRule } from '../../src/approvals/rules.js';
import { Approvals } from '../../src/approvals/service.js';
import type { AuditRecord } from '../../src/audit/records.js';
import { type AuditEvent, type AuditTrail, TrailAuditSink } from '../../src/audit/sink.js';
import type { Actor } from '../../src/command-kit/command-spec.js';
import type { Approval, HeldAction, HeldCommand } from '../../src/command-kit/held-action.js';
import type { MessageArgs, SlackApi } from '../../src/integrations/slack-api.js';
import type { Logger } from '../../src/log.js';
import { createStateTable, openDynamoState } from '../../src/store/dynamodb.js';
import { openSqliteState } from '../../src/store/sqlite.js';
import type { State } from '../../src/store/state.js';
import { FakeClock } from './fake-clock.js';
import { captureLogs, type LogCapture } from './log-capture.js';
import { emulatorClient } from './replicas.js';

/**
 * `Approvals` as several replicas run it, without Bolt: each replica its own State connection (a
 * SQLite file opened again, or a DynamoDB client of the same table), one fake clock, one recording
 * Slack, the real audit trail (`TrailAuditSink`), and a runner that counts what ran where.
 */

const MINUTE = 60_000;

export const REQUESTER = 'U0REQ';
export const LEAD = 'U0LEAD';
export const LEAD2 = 'U0LEAD2';
/** An approver through the user group S0LEADS only. */
export const GROUPIE = 'U0GROUPIE';
export const STRANGER = 'U0OTHER';
export const ADMIN = 'U0ADMIN';

export const RULES: readonly ApprovalRule[] = [
  {
    actions: ['devenv:up'],
    args: { template: ['large'] },
    approvers: { users: [LEAD, LEAD2], usergroups: ['S0LEADS'] },
    expires: 15 * MINUTE,
  },
];
export const EXPIRES_MS = 15 * MINUTE;

export const actor = (userId: string, channelId = 'C0OPS'): Actor => ({
  teamId: 'T0TEST',
  userId,
  channelId,
});

/** `/devenv up large --name <name>` as the pipeline holds it. */
export function heldUp(userId = REQUESTER, name = 'big-1'): HeldCommand {
  return {
    kind: 'command',
    action: 'devenv:up',
    actor: actor(userId),
    args: `template=large name=${name}`,
    command: 'devenv',
    text: `up large --name ${name}`,
    input: { args: { template: 'large' }, flags: { name } },
  };
}

/** A store the replicas share: a SQLite file or a DynamoDB table. */
export interface Backend {
  name: string;
  /** A fresh file or table; `connect` opens one replica's connection to it. */
  fresh(now: () => number): Promise<{ connect(): Promise<State> }>;
}

export function sqliteBackend(root: string): Backend {
  return {
    name: 'SQLite',
    async fresh(now) {
      const path = join(mkdtempSync(join(root, 'db-')), 'state.db');
      return { connect: async () => openSqliteState({ path, now }) };
    },
  };
}

/** `endpoint`: moto behind `startDynamoProxy` (one call at a time, as atomic as DynamoDB). */
export function dynamoBackend(endpoint: string): Backend {
  let n = 0;
  return {
    name: 'DynamoDB (moto)',
    async fresh(now) {
      const table = `opsbot-approvals-${process.pid}-${++n}-${Date.now().toString(36)}`;
      const admin = emulatorClient(endpoint);
      try {
        await createStateTable(admin, table);
      } finally {
        admin.destroy();
      }
      return {
        async connect() {
          const client = emulatorClient(endpoint);
          const state = openDynamoState({ table, client, now });
          await state.ready();
          return {
            ...state,
            close() {
              // The audit writes finish first, then the table, then this replica's client.
              void state.audit.close().finally(() => {
                state.close();
                client.destroy();
              });
            },
          };
        },
      };
    },
  };
}

/** An audit trail that remembers its writes, so a test can wait for them (no sleeping). */
class TrackedTrail implements AuditTrail {
  readonly #sink: TrailAuditSink;
  readonly #pending: Promise<unknown>[];

  constructor(sink: TrailAuditSink, pending: Promise<unknown>[]) {
    this.#sink = sink;
    this.#pending = pending;
  }

  write(event: AuditEvent): void {
    this.#pending.push(this.#sink.record(event, Number.POSITIVE_INFINITY).catch(() => undefined));
  }

  record(event: AuditEvent, deadlineMs?: number): Promise<AuditRecord> {
    const stored = this.#sink.record(event, deadlineMs);
    this.#pending.push(stored.catch(() => undefined));
    return stored;
  }
}

export interface Run {
  held: HeldAction;
  approval: Approval;
  /** The replica that ran it. */
  on: string;
}

export interface Replica {
  name: string;
  approvals: Approvals;
  state: State;
  close(): Promise<void>;
}

export interface ApprovalsRig {
  clock: FakeClock;
  logs: LogCapture;
  /** Every run of an approved action, on whichever replica. */
  runs: Run[];
  /** Compare-and-sets of a request that another writer beat (the race really happened). */
  casRefused(): number;
  /** Every message posted or updated, in order. */
  slack: Array<{ op: 'post' | 'update'; args: MessageArgs }>;
  /** Called as each message is posted, before the post answers (someone pressing a button at once). */
  onPost?: (args: MessageArgs) => Promise<unknown>;
  replica(name: string): Promise<Replica>;
  /** The stored request, read through a connection of its own. */
  request(id: string): Promise<StoredRequest | undefined>;
  /** Once every audit write so far is stored: the records of `action`, oldest first. */
  records(action: string): Promise<AuditRecord[]>;
  close(): Promise<void>;
}

/**
 * A rig on a fresh store of `backend`. Its own connection (`home`) reads for the test; on SQLite it
 * also holds the audit trail for every replica, because SQLite's trail takes one writer per file
 * (README, "State": one writer process per file) while its message refs take any number.
 */
export async function approvalsRig(backend: Backend): Promise<ApprovalsRig> {
  const clock = new FakeClock();
  const logs = captureLogs({ level: 'warn' });
  const log: Logger = logs.log;
  const store = await backend.fresh(() => clock.now());
  const home = await store.connect();
  const singleAuditWriter = !home.shared;
  const pending: Promise<unknown>[] = [];
  const runs: Run[] = [];
  const slack: ApprovalsRig['slack'] = [];
  const open: Replica[] = [];
  let ts = 0;
  let refused = 0;
  const fakeSlack: Pick<SlackApi, 'postMessage' | 'updateMessage'> = {
    async postMessage(args) {
      slack.push({ op: 'post', args });
      await rig.onPost?.(args);
      ts++;
      return { channel: args.channel, ts: `1700000000.${String(ts).padStart(6, '0')}` };
    },
    async updateMessage(args) {
      slack.push({ op: 'update', args });
    },
  };
  const settled = async () => {
    while (pending.length > 0) await Promise.all(pending.splice(0));
  };

  const rig: ApprovalsRig = {
    clock,
    logs,
    runs,
    slack,
    casRefused: () => refused,
    async replica(name) {
      const state = await store.connect();
      const auditStore = singleAuditWriter ? home.audit : state.audit;
      const approvals = new Approvals({
        rules: RULES,
        refs: {
          get: (key) => state.messages.get(key),
          putIfAbsent: (key, ref, ttlMs) => state.messages.putIfAbsent(key, ref, ttlMs),
          async compareAndSet(key, version, ref) {
            const next = await state.messages.compareAndSet(key, version, ref);
            if (!next && key.startsWith('approval:')) refused++;
            return next;
          },
        },
        slack: fakeSlack,
        membership: async (group, user) => group === 'S0LEADS' && user === GROUPIE,
        isAdmin: (user) => user === ADMIN,
        audit: new TrackedTrail(new TrailAuditSink(auditStore, log, clock), pending),
        clock,
        log,
      });
      approvals.runWith(async (held, approval, progress) => {
        runs.push({ held, approval, on: name });
        await progress.update({ text: 'running' });
        return { outcome: 'success', reply: { text: 'ran' } };
      });
      const replica: Replica = {
        name,
        approvals,
        state,
        async close() {
          await settled();
          state.close();
          open.splice(open.indexOf(replica), 1);
        },
      };
      open.push(replica);
      return replica;
    },
    request: (id) => new ApprovalRequests(home.messages).get(id),
    async records(action) {
      await settled();
      const all = await home.audit.readAfter(0, 1_000);
      return all.filter((r) => r.action === action);
    },
    async close() {
      await settled();
      for (const r of [...open]) await r.close();
      home.close();
    },
  };
  return rig;
}
