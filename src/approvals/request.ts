import { randomBytes } from 'node:crypto';
import type { HeldAction } from '../command-kit/held-action.js';
import type { MessageRefStore } from '../store/state.js';

/** Where a request stands. `open` until one decision (or expiry) closes it; `approved` until it has run. */
export type RequestStatus = 'open' | 'approved' | 'denied' | 'cancelled' | 'expired' | 'ran';

/** Who may decide it, as the rule said when it was asked (a configuration change does not move it). */
export interface Approvers {
  users: readonly string[];
  usergroups: readonly string[];
}

/** A request for approval, as State keeps it (one message ref per request). */
export interface ApprovalRequest {
  id: string;
  held: HeldAction;
  approvers: Approvers;
  /** Epoch ms. */
  requestedAt: number;
  expiresAt: number;
  status: RequestStatus;
  /** Who closed it (approve, deny, cancel) and when; `opsbot` for expiry. */
  decidedBy?: string;
  decidedAt?: number;
  /** How the approved action ended when it ran. */
  outcome?: 'success' | 'denied' | 'error';
}

/** A request with where its message is and its stored version (for compare-and-set). */
export interface StoredRequest {
  request: ApprovalRequest;
  /** The request message (`-` until it is posted). */
  channel: string;
  ts: string;
  version: number;
}

/** Request ids: `R-` and 8 characters of Crockford's base32 (no I, L, O, U). */
export const REQUEST_ID = /^R-[0-9A-HJKMNP-TV-Z]{8}$/;
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newRequestId(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(8);
  let id = 'R-';
  for (const byte of bytes) id += ALPHABET[byte % 32];
  return id;
}

/** A request stays readable this long after it expires: a late press is told what happened to it. */
export const KEEP_AFTER_EXPIRY_MS = 7 * 86_400_000;
const keyOf = (id: string) => `approval:${id}`;

/**
 * The requests in State, one message ref each (`approval:<id>`): created once, then moved from
 * state to state by compare-and-set, so the first decision wins across replicas and restarts.
 */
export class ApprovalRequests {
  readonly #refs: Pick<MessageRefStore, 'get' | 'putIfAbsent' | 'compareAndSet'>;

  constructor(refs: Pick<MessageRefStore, 'get' | 'putIfAbsent' | 'compareAndSet'>) {
    this.#refs = refs;
  }

  /** Stores a new request; false when its id is taken (the caller draws another). */
  async create(request: ApprovalRequest, now: number): Promise<StoredRequest | undefined> {
    const ttl = Math.max(60_000, request.expiresAt - now + KEEP_AFTER_EXPIRY_MS);
    const put = await this.#refs.putIfAbsent(
      keyOf(request.id),
      { channel: '-', ts: '-', data: JSON.stringify(request) },
      ttl,
    );
    if (!put.created) return undefined;
    return { request, channel: '-', ts: '-', version: put.ref.version };
  }

  async get(id: string): Promise<StoredRequest | undefined> {
    if (!REQUEST_ID.test(id)) return undefined;
    const ref = await this.#refs.get(keyOf(id));
    if (!ref?.data) return undefined;
    const request = readRequest(ref.data);
    return request && { request, channel: ref.channel, ts: ref.ts, version: ref.version };
  }

  /** Replaces the request if nobody changed it since `stored` was read; undefined when someone did. */
  async update(
    stored: StoredRequest,
    request: ApprovalRequest,
    where: { channel: string; ts: string } = stored,
  ): Promise<StoredRequest | undefined> {
    const next = await this.#refs.compareAndSet(keyOf(request.id), stored.version, {
      channel: where.channel,
      ts: where.ts,
      data: JSON.stringify(request),
    });
    return next && { request, channel: next.channel, ts: next.ts, version: next.version };
  }
}

function readRequest(data: string): ApprovalRequest | undefined {
  try {
    const parsed = JSON.parse(data) as ApprovalRequest;
    return typeof parsed?.id === 'string' && typeof parsed.status === 'string' && parsed.held
      ? parsed
      : undefined;
  } catch {
    return undefined;
  }
}
