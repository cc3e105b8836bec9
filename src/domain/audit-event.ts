// Audit events and their hash chain (API.md, "Additions of 2026-12"). Each writer instance keeps one
// chain: every event carries the hash of the one before it, and its own hash covers that link and its
// canonical JSON, so an edited, removed or reordered event breaks the chain where it happened.
// A chain starts from a genesis hash derived from its id, and the store anchors each chain's head, so
// a chain cannot be spliced onto another nor silently shortened at its end.
import { hash } from 'node:crypto';

export const AUDIT_ACTIONS = [
  'record.read',
  'record.list',
  'record.create',
  'record.replace',
  'record.patch',
  'record.delete',
  'auth.denied',
  'legal-hold.set',
  'legal-hold.clear',
  'legal-hold.list',
  'pin.set',
  'pin.clear',
  'record.inspect',
  'archival.run',
  'archival.read',
  'archival.unpark',
  'archive.gc',
  'rehydrate',
  'job.read',
  'cost-report.read',
  'alerts.read',
  'retention.run',
  'erasure',
  'export',
  'audit.read',
  'audit.verify',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditActor {
  /** The token's `sub`; `anonymous` when no valid token was sent. */
  readonly sub: string;
  readonly roles: readonly string[];
}

/** What a writer knows of an event before it is chained. */
export interface AuditEntry {
  readonly at: string;
  readonly actor: AuditActor;
  readonly action: AuditAction;
  readonly customerId: string | null;
  readonly recordId: string | null;
  /** The HTTP status answered (or the outcome's equivalent for the CLI). */
  readonly status: number;
  readonly requestId: string | null;
  /** Why the operator acted (legal hold, pin, runs, rehydration), or why access was denied. */
  readonly reason: string | null;
}

/** A stored event: the entry, its place in its writer's chain, and the chain's two hashes. */
export interface AuditEvent extends AuditEntry {
  /** The writer instance whose chain this event belongs to. */
  readonly chain: string;
  /** 1, 2, 3 ... within the chain. */
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** Where a chain ends, as the store anchors it beside the events. */
export interface ChainHead {
  readonly chain: string;
  readonly seq: number;
  readonly hash: string;
}

/** The hash a chain's first event links to: derived from the chain id, so chains cannot be swapped. */
export function genesisHash(chain: string): string {
  return sha256(`audit-chain-genesis:${chain}`);
}

/** Every field but `hash`, keys in a fixed order: the bytes the hash covers. */
export function canonicalAuditEvent(event: Omit<AuditEvent, 'hash'>): string {
  return JSON.stringify([
    event.chain,
    event.seq,
    event.at,
    event.actor.sub,
    [...event.actor.roles],
    event.action,
    event.customerId,
    event.recordId,
    event.status,
    event.requestId,
    event.reason,
    event.prevHash,
  ]);
}

/** `hash = sha256(prevHash ‖ canonical event)`. */
export function hashAuditEvent(event: Omit<AuditEvent, 'hash'>): string {
  return sha256(event.prevHash + canonicalAuditEvent(event));
}

/** Links entries onto a chain whose head is `head` (none: a new chain). */
export function chainEvents(
  chain: string,
  head: Pick<ChainHead, 'seq' | 'hash'> | undefined,
  entries: readonly AuditEntry[],
): AuditEvent[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? genesisHash(chain);
  return entries.map((entry) => {
    const unhashed = { ...entry, chain, seq: ++seq, prevHash };
    const event = { ...unhashed, hash: hashAuditEvent(unhashed) };
    prevHash = event.hash;
    return event;
  });
}

/** The first broken link of a chain read in stored order, or none. */
export interface ChainBreak {
  readonly chain: string;
  /** The seq of the first event that does not verify (or where one is missing). */
  readonly seq: number;
  readonly problem: string;
}

/**
 * Re-computes one chain from its stored events (in the order the store keeps them) and checks its
 * anchored head. Edits break the event's own hash; removals and reorders break the seq or the link.
 */
export function verifyChain(
  chain: string,
  events: readonly AuditEvent[],
  anchors: { readonly head?: ChainHead; readonly within?: readonly ChainHead[] } = {},
): ChainBreak | undefined {
  const anchoredHead = anchors.head;
  const hashes = new Map<number, string>();
  let expectedSeq = 1;
  let prevHash = genesisHash(chain);
  for (const event of events) {
    const at = (problem: string): ChainBreak => ({ chain, seq: expectedSeq, problem });
    if (event.chain !== chain) return at(`an event of chain ${event.chain} is stored in this chain`);
    if (event.seq !== expectedSeq) return at(`expected seq ${expectedSeq}, found ${event.seq}`);
    if (event.prevHash !== prevHash) return at('its prevHash is not the hash of the event before');
    const { hash, ...unhashed } = event;
    if (hashAuditEvent(unhashed) !== hash) return at('its content does not match its hash');
    prevHash = hash;
    hashes.set(event.seq, hash);
    expectedSeq++;
  }
  const lastSeq = expectedSeq - 1;
  // Anchors written further on (a new day's blob names the head it continues) must find their event.
  for (const anchor of anchors.within ?? []) {
    if (hashes.get(anchor.seq) !== anchor.hash) {
      return {
        chain,
        seq: Math.min(anchor.seq, lastSeq + 1),
        problem: `an anchor names seq ${anchor.seq} (${anchor.hash.slice(0, 12)}), which the stored chain does not hold`,
      };
    }
  }
  if (anchoredHead !== undefined && (anchoredHead.seq !== lastSeq || anchoredHead.hash !== prevHash)) {
    // Missing tail: the first absent event; extra tail: the first event past the anchor; a rewritten
    // chain that still ends at the anchored seq: its last event.
    const seq =
      anchoredHead.seq > lastSeq ? lastSeq + 1 : anchoredHead.seq < lastSeq ? anchoredHead.seq + 1 : lastSeq;
    return {
      chain,
      seq,
      problem: `the anchored head is seq ${anchoredHead.seq} (${anchoredHead.hash.slice(0, 12)}) but the stored chain ends at seq ${lastSeq}`,
    };
  }
  return undefined;
}

function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}
