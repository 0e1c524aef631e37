/**
 * The inspection bus: every delivery, transition, emission, timer, crash and restart of every
 * engine of every node, as an RxJS stream, stamped with a Lamport clock per node.
 *
 * The trace hash is sha256 over the canonical wire encoding of every event in order, so two runs
 * are the same run exactly when their hashes match.
 */
import { createHash, type Hash } from 'node:crypto';
import { type Observable, Subject } from 'rxjs';
import { encode, s } from '../wire/schema.ts';

interface Common {
  /** Scheduler time in ms (virtual in simulation). */
  at: number;
  node: string;
  lamport: number;
  engine: string;
}

/** A part's share of an engine step (runtime/part.ts): where it is after the step, what it took. */
export interface PartStep {
  /** the part's name in its engine definition (`round`) */
  part: string;
  /** the part machine's state after the step, as a dotted path without the machine id */
  state: string;
  /** ids of the part's transitions the step took, in order (runtime/transition-id.ts) */
  taken: readonly string[];
}

export type InspectEvent =
  | (Common & {
      kind: 'deliver';
      port: string;
      from: string;
      /** the sender's Lamport time when it sent (0 when unknown): the happened-before edge */
      sent: number;
      msg: Uint8Array | undefined;
    })
  | (Common & {
      kind: 'transition';
      event: string;
      from: string;
      to: string;
      /** the transitions the step took, in order (runtime/transition-id.ts); not part of the trace hash */
      taken?: readonly string[];
      /**
       * for an engine with parts: each part whose state is known, with the transitions it took in
       * this step; not part of the trace hash
       */
      parts?: readonly PartStep[];
    })
  | (Common & { kind: 'emit'; port: string })
  | (Common & { kind: 'timer'; op: 'arm' | 'fire' | 'cancel'; name: string; deadline: number })
  | (Common & { kind: 'crash'; error: string })
  | (Common & { kind: 'restart'; restarts: number })
  | (Common & { kind: 'failed'; reason: string })
  | (Common & { kind: 'drop'; port: string; reason: string })
  | (Common & { kind: 'start' | 'stop' });

export type InspectKind = InspectEvent['kind'];

const micros = (ms: number): bigint => BigInt(Math.round(ms * 1000));
const common = { at: s.u64(), node: s.string(), lamport: s.u64(), engine: s.string() };

/** The canonical wire form of an inspection event, used for the trace hash and recorded traces. */
export const InspectEventWire = s.variant({
  deliver: s.struct({
    ...common,
    port: s.string(),
    from: s.string(),
    sent: s.u64(),
    msg: s.option(s.bytes()),
  }),
  transition: s.struct({ ...common, event: s.string(), from: s.string(), to: s.string() }),
  emit: s.struct({ ...common, port: s.string() }),
  timer: s.struct({ ...common, op: s.string(), name: s.string(), deadline: s.u64() }),
  crash: s.struct({ ...common, error: s.string() }),
  restart: s.struct({ ...common, restarts: s.u32() }),
  failed: s.struct({ ...common, reason: s.string() }),
  drop: s.struct({ ...common, port: s.string(), reason: s.string() }),
  start: s.struct(common),
  stop: s.struct(common),
});

export function encodeInspectEvent(e: InspectEvent): Uint8Array {
  const base = { at: micros(e.at), node: e.node, lamport: BigInt(e.lamport), engine: e.engine };
  switch (e.kind) {
    case 'deliver':
      return encode(InspectEventWire, {
        tag: 'deliver',
        value: { ...base, port: e.port, from: e.from, sent: BigInt(e.sent), msg: e.msg ?? null },
      });
    case 'transition':
      return encode(InspectEventWire, {
        tag: 'transition',
        value: { ...base, event: e.event, from: e.from, to: e.to },
      });
    case 'emit':
      return encode(InspectEventWire, { tag: 'emit', value: { ...base, port: e.port } });
    case 'timer':
      return encode(InspectEventWire, {
        tag: 'timer',
        value: { ...base, op: e.op, name: e.name, deadline: micros(e.deadline) },
      });
    case 'crash':
      return encode(InspectEventWire, { tag: 'crash', value: { ...base, error: e.error } });
    case 'restart':
      return encode(InspectEventWire, { tag: 'restart', value: { ...base, restarts: e.restarts } });
    case 'failed':
      return encode(InspectEventWire, { tag: 'failed', value: { ...base, reason: e.reason } });
    case 'drop':
      return encode(InspectEventWire, { tag: 'drop', value: { ...base, port: e.port, reason: e.reason } });
    case 'start':
    case 'stop':
      return encode(InspectEventWire, { tag: e.kind, value: base });
  }
}

export interface InspectorOptions {
  /** Maintain the trace hash (costs one encode + hash update per event). */
  trace?: boolean;
}

/** Omit that distributes over the union, so each variant keeps its own fields. */
export type InspectEventInit = InspectEvent extends infer E
  ? E extends InspectEvent
    ? Omit<E, 'lamport'>
    : never
  : never;

/** The events of `Inspector.faults$`: an engine crashed, was restarted, or was given up on. */
export type FaultEvent = Extract<InspectEventInit, { kind: 'crash' | 'restart' | 'failed' }>;

export class Inspector {
  private readonly subject = new Subject<InspectEvent>();
  private readonly faultSubject = new Subject<FaultEvent>();
  private readonly lamports = new Map<string, number>();
  private readonly hash: Hash | undefined;
  /** Encoded events not yet hashed: one hash update per 64 KiB, not per event (same digest). */
  private readonly chunk = new Uint8Array(64 * 1024);
  private chunkUsed = 0;
  private count = 0;
  /** Events the trace could not encode (a bug to look at; counted, never thrown). */
  unencodable = 0;

  constructor(opts: InspectorOptions = {}) {
    this.hash = opts.trace ? createHash('sha256') : undefined;
  }

  /** True when anyone listens or a trace is kept: callers skip building events otherwise. */
  get active(): boolean {
    return this.hash !== undefined || this.subject.observed;
  }

  get events$(): Observable<InspectEvent> {
    return this.subject.asObservable();
  }

  /**
   * Crashes, restarts and failures only, whether or not the inspector is active: what a live node
   * logs. Subscribing here does not make the inspector active, so engines keep skipping the
   * per-message events (and the encoding of every delivered message for them).
   */
  get faults$(): Observable<FaultEvent> {
    return this.faultSubject.asObservable();
  }

  /** Reports a crash, restart or failure on `faults$` (no Lamport tick: not part of the trace). */
  fault(event: FaultEvent): void {
    if (this.faultSubject.observed) this.faultSubject.next(event);
  }

  get eventCount(): number {
    return this.count;
  }

  /** Current Lamport time of a node. */
  lamport(node: string): number {
    return this.lamports.get(node) ?? 0;
  }

  /**
   * Advances the node's Lamport clock (merging a received timestamp, if any) and returns it.
   * Called for every event and for every message send, so it is kept even when inactive.
   */
  tick(node: string, received?: number): number {
    const prev = this.lamports.get(node) ?? 0;
    const next = Math.max(prev, received ?? 0) + 1;
    this.lamports.set(node, next);
    return next;
  }

  record(init: InspectEventInit, received?: number): void {
    const event = { ...init, lamport: this.tick(init.node, received) } as InspectEvent;
    this.count++;
    if (this.hash !== undefined) {
      // the inspector must never throw into an engine: an event it cannot encode is hashed as its kind
      let bytes: Uint8Array;
      try {
        bytes = encodeInspectEvent(event);
      } catch {
        this.unencodable++;
        bytes = new TextEncoder().encode(`unencodable:${event.kind}`);
      }
      this.hashLater(bytes);
    }
    this.subject.next(event);
  }

  /** Adds `bytes` to the trace: copied into the chunk, which is hashed when full. */
  private hashLater(bytes: Uint8Array): void {
    const hash = this.hash!;
    if (this.chunkUsed + bytes.length > this.chunk.length) this.flushChunk();
    if (bytes.length > this.chunk.length) hash.update(bytes);
    else {
      this.chunk.set(bytes, this.chunkUsed);
      this.chunkUsed += bytes.length;
    }
  }

  private flushChunk(): void {
    if (this.chunkUsed === 0) return;
    this.hash!.update(this.chunk.subarray(0, this.chunkUsed));
    this.chunkUsed = 0;
  }

  /** Hex sha256 over every event so far (the running hash is not consumed). */
  traceHash(): string {
    if (this.hash === undefined) throw new Error('Inspector: created without { trace: true }');
    this.flushChunk();
    return this.hash.copy().digest('hex');
  }

  complete(): void {
    this.subject.complete();
    this.faultSubject.complete();
  }
}
