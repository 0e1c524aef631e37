/**
 * The inspection bus: every delivery, transition, emission, timer, crash and restart of every
 * engine of every node, as an RxJS stream, stamped with a Lamport clock per node.
 *
 * The trace hash is sha256 over the canonical wire encoding of every event in order, so two runs
 * are the same run exactly when their hashes match.
 */
import { createHash, type Hash } from 'node:crypto';
import { type Observable, Subject } from 'rxjs';
import { Writer, writeToBytes } from '../wire/buffer.ts';
import { EncodeError } from '../wire/errors.ts';
import { type Infer, s } from '../wire/schema.ts';

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

/** The InspectEventWire value of an event: what its canonical encoding encodes. */
export function inspectEventWire(e: InspectEvent): Infer<typeof InspectEventWire> {
  const base = { at: micros(e.at), node: e.node, lamport: BigInt(e.lamport), engine: e.engine };
  switch (e.kind) {
    case 'deliver':
      return {
        tag: 'deliver',
        value: { ...base, port: e.port, from: e.from, sent: BigInt(e.sent), msg: e.msg ?? null },
      };
    case 'transition':
      return { tag: 'transition', value: { ...base, event: e.event, from: e.from, to: e.to } };
    case 'emit':
      return { tag: 'emit', value: { ...base, port: e.port } };
    case 'timer':
      return { tag: 'timer', value: { ...base, op: e.op, name: e.name, deadline: micros(e.deadline) } };
    case 'crash':
      return { tag: 'crash', value: { ...base, error: e.error } };
    case 'restart':
      return { tag: 'restart', value: { ...base, restarts: e.restarts } };
    case 'failed':
      return { tag: 'failed', value: { ...base, reason: e.reason } };
    case 'drop':
      return { tag: 'drop', value: { ...base, port: e.port, reason: e.reason } };
    case 'start':
    case 'stop':
      return { tag: e.kind, value: base };
  }
}

/** The canonical wire form of an inspection event (see `writeInspectEvent`). */
export function encodeInspectEvent(e: InspectEvent): Uint8Array {
  return writeToBytes((w) => writeInspectEvent(w, e, e.lamport));
}

/** Variant indices of InspectEventWire, in its declaration order. */
const TAG: Readonly<Record<InspectKind, number>> = {
  deliver: 0,
  transition: 1,
  emit: 2,
  timer: 3,
  crash: 4,
  restart: 5,
  failed: 6,
  drop: 7,
  start: 8,
  stop: 9,
};

const TWO_32 = 2 ** 32;

/** A u64 field from a number, as the codec writes BigInt(x): no BigInt on the usual safe path. */
function u64Of(w: Writer, x: number): void {
  if (Number.isSafeInteger(x) && x >= 0) {
    w.ensure(8);
    w.view.setUint32(w.pos, x % TWO_32, true);
    w.view.setUint32(w.pos + 4, Math.floor(x / TWO_32), true);
    w.pos += 8;
    return;
  }
  const b = BigInt(x); // a RangeError for NaN, infinities and fractions, as BigInt(x) gives the codec
  if (BigInt.asUintN(64, b) !== b) throw new EncodeError(`u64 needs a bigint in [0, 2^64), got ${b}`);
  w.u64(b);
}

function stringOf(w: Writer, v: string): void {
  if (typeof v !== 'string') throw new EncodeError(`string needs a string, got ${typeof v}`);
  w.utf8Blob(v, Number.POSITIVE_INFINITY);
}

/**
 * Writes an event's canonical encoding, byte for byte `encode(InspectEventWire,
 * inspectEventWire(e))` (a property checks it) and throwing where that throws, without building the
 * wire value: a traced run encodes every event for its hash, and this is most of the trace's cost.
 */
export function writeInspectEvent(w: Writer, e: InspectEventInit, lamport: number): void {
  w.varint(TAG[e.kind]);
  u64Of(w, Math.round(e.at * 1000));
  stringOf(w, e.node);
  u64Of(w, lamport);
  stringOf(w, e.engine);
  switch (e.kind) {
    case 'deliver':
      stringOf(w, e.port);
      stringOf(w, e.from);
      u64Of(w, e.sent);
      if (e.msg === undefined || e.msg === null) w.u8(0);
      else {
        if (!(e.msg instanceof Uint8Array)) throw new EncodeError('deliver msg needs a Uint8Array');
        w.u8(1);
        w.blob(e.msg);
      }
      return;
    case 'transition':
      stringOf(w, e.event);
      stringOf(w, e.from);
      stringOf(w, e.to);
      return;
    case 'emit':
      stringOf(w, e.port);
      return;
    case 'timer':
      stringOf(w, e.op);
      stringOf(w, e.name);
      u64Of(w, Math.round(e.deadline * 1000));
      return;
    case 'crash':
      stringOf(w, e.error);
      return;
    case 'restart':
      if (!(Number.isInteger(e.restarts) && e.restarts >= 0 && e.restarts < TWO_32))
        throw new EncodeError(`u32 needs an integer in [0, ${TWO_32 - 1}], got ${e.restarts}`);
      w.u32(e.restarts);
      return;
    case 'failed':
      stringOf(w, e.reason);
      return;
    case 'drop':
      stringOf(w, e.port);
      stringOf(w, e.reason);
      return;
    case 'start':
    case 'stop':
      return;
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
  /** The trace's own writer: every event is encoded into it, then copied into the chunk. */
  private readonly writer = new Writer();
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

  /**
   * True when anyone reads the event stream. Only the hash (no reader) needs no more than what it
   * hashes: engines skip what events carry beyond it (the transitions a step took, its parts).
   */
  get watched(): boolean {
    return this.subject.observed;
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
    const lamport = this.tick(init.node, received);
    this.count++;
    if (this.hash !== undefined) {
      // the inspector must never throw into an engine: an event it cannot encode is hashed as its kind
      const w = this.writer;
      w.pos = 0;
      try {
        writeInspectEvent(w, init, lamport);
        this.hashLater(w.buf.subarray(0, w.pos));
      } catch {
        this.unencodable++;
        this.hashLater(new TextEncoder().encode(`unencodable:${init.kind}`));
      }
    }
    // the event object is built only for a reader: a trace kept for its hash alone needs none
    if (this.subject.observed) this.subject.next({ ...init, lamport } as InspectEvent);
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
