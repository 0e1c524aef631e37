/**
 * A running engine: one XState actor fed by its mailbox, one message at a time, supervised.
 *
 * Each step is all-or-nothing: outputs emitted while processing a message are held back until the
 * step succeeds. If an action throws, the outputs are dropped, the crash is recorded, and the
 * engine restarts from its last good snapshot (deadlines re-armed) under its restart policy.
 */
import {
  type AnyActorLogic,
  type AnyActorRef,
  type AnyStateMachine,
  createActor,
  type Snapshot,
} from 'xstate';
import type { BatchOp } from '../storage/types.ts';
import { encode } from '../wire/schema.ts';
import { Channel, type Envelope } from './channel.ts';
import { compiledLogic } from './compiled-machine.ts';
import { type Deadlines, diffDeadlines } from './deadlines.ts';
import {
  type EngineDefinition,
  type EngineHost,
  machineOf,
  PERSIST,
  type PortSchemas,
  stateToString,
} from './engine.ts';
import type { FaultEvent, Inspector, PartStep } from './inspect.ts';
import { type PartWatcher, watchParts } from './part.ts';
import type { PrngState } from './random.ts';
import type { Scheduler, TimerHandle } from './scheduler.ts';
import { decideRestart, isIncurable, type RestartPolicy } from './supervision.ts';
import { idOfTaken, type TransitionSourceLike } from './transition-id.ts';

export type EngineStatus = 'idle' | 'running' | 'failed' | 'stopped';

interface Emitted {
  type: string;
  msg?: unknown;
  ops?: readonly BatchOp[];
}

interface MachineSnapshotLike {
  status: string;
  value: unknown;
  context: { deadlines?: Deadlines } | undefined;
  error?: unknown;
}

/** A node's view of time: engines see local time; the scheduler runs on global time. */
export interface LocalClock {
  now(): number;
  /** The global time at which local time reaches `local`. */
  toGlobal(local: number): number;
}

/** Engines see whole milliseconds (wall-clock and skewed time are fractional underneath). */
export function skewedClock(scheduler: Scheduler, offset = 0, rate = 1): LocalClock {
  if (!(offset >= 0) || !(rate > 0)) {
    throw new RangeError(
      `clock skew needs offset >= 0 and rate > 0 (local time never runs backwards), got ${offset}, ${rate}`,
    );
  }
  if (offset === 0 && rate === 1) return { now: () => Math.floor(scheduler.now()), toGlobal: (l) => l };
  return { now: () => Math.floor(scheduler.now() * rate + offset), toGlobal: (l) => (l - offset) / rate };
}

export interface InstanceOptions {
  node: string;
  clock: LocalClock;
  name: string;
  definition: EngineDefinition<PortSchemas, PortSchemas, unknown>;
  config: unknown;
  seed: PrngState;
  scheduler: Scheduler;
  inspector: Inspector;
  host: EngineHost;
  policy: RestartPolicy;
  /** Deep-freeze the context after every step (see GraphOptions.freezeContexts). */
  freezeContext?: boolean;
}

/**
 * Freezes every object reachable from `value` that is not frozen yet. What an earlier step left
 * is frozen already and shared, so each call walks only what the last step built. Typed arrays
 * cannot be frozen (they are bytes of messages and keys, never written after they are made);
 * Maps and Sets are frozen as objects, their entries stay as they are.
 */
export function deepFreeze(value: unknown): void {
  // typed arrays first: they cannot be frozen, and asking whether one is costs more than asking what it is
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value))
    return;
  Object.freeze(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k);
      deepFreeze(v);
    }
    return;
  }
  if (value instanceof Set) {
    for (const v of value) deepFreeze(v);
    return;
  }
  // for-in, not Object.keys: no array per object frozen (contexts are plain data, nothing inherited)
  for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
}

export class EngineInstance {
  readonly name: string;
  readonly node: string;
  readonly definition: EngineDefinition<PortSchemas, PortSchemas, unknown>;
  readonly machine: AnyStateMachine;
  /** What the actor runs: the machine on the compiled runner when it covers the machine (compiled-machine.ts), else XState. */
  private readonly logic: AnyActorLogic;
  readonly outputs: ReadonlyMap<string, Channel<unknown>>;
  private actor: AnyActorRef | undefined;
  private lastGood: Snapshot<unknown> | undefined;
  private pendingOut: Emitted[] = [];
  /** ids of the transitions the step in progress took (collected only while inspected) */
  private taken: string[] = [];
  /** XState's inspection of the actor, subscribed only while the inspector is active (it costs) */
  private inspection: { unsubscribe(): void } | undefined;
  /** the definition's parts by machine, to name the part a microstep belongs to */
  private readonly partNames: ReadonlyMap<AnyStateMachine, string>;
  /** watches the parts a step runs (only while inspected); undefined for an engine without parts */
  private readonly partWatcher: PartWatcher | undefined;
  /** each part's state and the transitions it took in the step in progress (only while inspected) */
  private readonly partsOfStep = new Map<string, { state: string; taken: string[] }>();
  /** each part's state after the last step watched; forgotten when inspection stops (it goes stale) */
  private readonly partStateMap = new Map<string, string>();
  private readonly armed = new Map<string, number>();
  /** The deadlines object the armed timers were last synced to (contexts are immutable: same object, same deadlines). */
  private syncedDeadlines: Deadlines | undefined | null = null;
  private readonly timers = new Map<string, TimerHandle>();
  private restartHistory: number[] = [];
  private _status: EngineStatus = 'idle';
  private _restarts = 0;
  private _processed = 0;
  private _mailbox = 0;
  private crashed: unknown = undefined;
  private readonly timerLane;

  constructor(private readonly o: InstanceOptions) {
    this.name = o.name;
    this.node = o.node;
    this.definition = o.definition;
    this.machine = machineOf(o.definition, o.host);
    this.logic = compiledLogic(this.machine) ?? this.machine;
    const outputs = new Map<string, Channel<unknown>>();
    for (const port of Object.keys(o.definition.outputs)) outputs.set(port, new Channel(`${o.name}.${port}`));
    this.outputs = outputs;
    this.timerLane = o.scheduler.lane(`${o.node}/${o.name}:timers`);
    this.partNames = new Map(Object.entries(o.definition.parts).map(([name, m]) => [m, name]));
    this.partWatcher =
      this.partNames.size === 0 ? undefined : { microstep: (m, v, t) => this.partMicrostep(m, v, t) };
  }

  get status(): EngineStatus {
    return this._status;
  }
  get restarts(): number {
    return this._restarts;
  }
  get processed(): number {
    return this._processed;
  }
  /** Messages accepted for this engine and not yet processed. */
  get mailboxDepth(): number {
    return this._mailbox;
  }

  /** What the engine was given by its node (storage, signer, verifier): tools read its storage. */
  get host(): EngineHost {
    return this.o.host;
  }

  snapshot(): MachineSnapshotLike | undefined {
    return this.actor?.getSnapshot() as MachineSnapshotLike | undefined;
  }

  /** The machine's current context, for tests and tools (engines never read each other's). */
  context<T>(): T {
    const snap = this.snapshot();
    if (snap === undefined) throw new Error(`engine ${this.node}/${this.name} is not running`);
    return snap.context as unknown as T;
  }

  /**
   * Each part's state (a dotted path without the machine id) after the last step taken while
   * the inspector was active; empty while it is not, or before a part first ran.
   */
  partStates(): ReadonlyMap<string, string> {
    return this.partStateMap;
  }

  /** The engine's current state as a dotted path. */
  stateString(): string {
    return stateToString(this.snapshot()?.value);
  }

  /** A persisted copy of the current state (e.g. for a simulator checkpoint). */
  persisted(): Snapshot<unknown> | undefined {
    return this.lastGood === undefined
      ? undefined
      : (this.logic.getPersistedSnapshot(this.lastGood as never) as Snapshot<unknown>);
  }

  start(): void {
    if (this._status !== 'idle') throw new Error(`engine ${this.node}/${this.name} already started`);
    this._status = 'running';
    this.record({ kind: 'start' });
    this.spawn(undefined);
  }

  stop(): void {
    if (this._status === 'stopped') return;
    this.cancelAllTimers();
    this.inspection?.unsubscribe();
    this.inspection = undefined;
    this.actor?.stop();
    this.actor = undefined;
    this._status = 'stopped';
    this.record({ kind: 'stop' });
    for (const ch of this.outputs.values()) ch.close();
  }

  /** Called by a delivery lane when a message is accepted into the mailbox. */
  accepted(): void {
    this._mailbox++;
  }

  /** Processes one input message. */
  deliver(port: string, envelope: Envelope<unknown>): void {
    this._mailbox--;
    const schema = this.definition.inputs[port];
    if (this._status !== 'running' || schema === undefined) {
      this.record(
        { kind: 'drop', port, reason: schema === undefined ? 'unknown-port' : `engine-${this._status}` },
        envelope.lamport,
      );
      return;
    }
    if (this.o.inspector.active) {
      this.record(
        {
          kind: 'deliver',
          port,
          from: envelope.from,
          sent: envelope.lamport,
          msg: this.traceBytes(schema, envelope.msg),
        },
        envelope.lamport,
      );
    } else this.o.inspector.tick(this.node, envelope.lamport);
    this.step({ type: port, msg: envelope.msg, now: this.o.clock.now(), from: envelope.from });
  }

  private traceBytes(schema: { type: unknown }, msg: unknown): Uint8Array | undefined {
    try {
      return encode(schema as never, msg as never);
    } catch {
      return undefined;
    }
  }

  private step(event: { type: string; now: number } & Record<string, unknown>): void {
    const actor = this.actor;
    if (actor === undefined) return;
    const before = this.o.inspector.active ? this.stateString() : '';
    this.pendingOut = [];
    this.taken = [];
    this.syncInspection();
    const watching = this.watchingParts();
    this.crashed = undefined;
    try {
      if (watching) watchParts(this.partWatcher!, () => actor.send(event));
      else actor.send(event);
    } catch (err) {
      this.crashed = err ?? new Error('engine threw');
    }
    const snap = actor.getSnapshot() as MachineSnapshotLike;
    if (this.crashed !== undefined || snap.status === 'error') {
      this.onCrash(this.crashed ?? snap.error);
      return;
    }
    const written = this.persist() ?? this.settleSigner();
    if (written !== undefined) {
      this.onCrash(written);
      return;
    }
    this._processed++;
    if (this.o.freezeContext === true) deepFreeze(snap.context);
    this.lastGood = snap as unknown as Snapshot<unknown>;
    const parts = watching ? this.partsAfterStep() : undefined;
    if (this.o.inspector.active) {
      this.record({
        kind: 'transition',
        event: event.type,
        from: before,
        to: this.stateString(),
        taken: this.taken,
        ...(parts === undefined ? {} : { parts }),
      });
    }
    this.flush();
    this.syncDeadlines(snap.context?.deadlines);
  }

  private spawn(snapshot: Snapshot<unknown> | undefined): void {
    const input = { config: this.o.config, seed: this.o.seed, now: this.o.clock.now() };
    const options = { input, clock: this.o.scheduler.clock, ...(snapshot === undefined ? {} : { snapshot }) };
    // a fresh start may run the parts (XState builds the initial context as it creates the actor;
    // consensus enters its height there): where they are is known from then on
    const watching = this.watchingParts();
    const actor = watching
      ? watchParts(this.partWatcher!, () => createActor(this.logic, options))
      : createActor(this.logic, options);
    actor.on('*', (e: Emitted) => {
      this.pendingOut.push(e);
    });
    // the observer's error callback keeps XState from rethrowing asynchronously; crashes are
    // detected synchronously from the snapshot status after each step
    actor.subscribe({
      error: (err: unknown) => {
        this.crashed ??= err;
      },
    });
    this.inspection?.unsubscribe();
    this.inspection = undefined;
    this.actor = actor;
    this.pendingOut = [];
    if (watching) watchParts(this.partWatcher!, () => actor.start());
    else actor.start();
    const snap = actor.getSnapshot() as MachineSnapshotLike;
    if (snap.status === 'error') {
      this.onCrash(snap.error);
      return;
    }
    const written = this.persist() ?? this.settleSigner();
    if (written !== undefined) {
      this.onCrash(written);
      return;
    }
    this.lastGood = snap as unknown as Snapshot<unknown>;
    if (watching) this.partsAfterStep();
    this.flush();
    this.syncDeadlines(snap.context?.deadlines);
  }

  /**
   * Whether the step about to run watches its parts: only while someone reads the inspector's events. A step
   * unwatched leaves what was known of the parts stale, so it is forgotten.
   */
  private watchingParts(): boolean {
    if (this.partWatcher === undefined) return false;
    // clearing a Map makes it a new table even when empty: most steps have nothing to clear
    if (this.partsOfStep.size > 0) this.partsOfStep.clear();
    if (this.o.inspector.watched) return true;
    if (this.partStateMap.size > 0) this.partStateMap.clear();
    return false;
  }

  private partMicrostep(
    machine: AnyStateMachine,
    value: unknown,
    transitions: readonly { source: TransitionSourceLike }[],
  ): void {
    const part = this.partNames.get(machine);
    if (part === undefined) return;
    let step = this.partsOfStep.get(part);
    if (step === undefined) {
      step = { state: '', taken: [] };
      this.partsOfStep.set(part, step);
    }
    step.state = stateToString(value);
    for (const t of transitions) step.taken.push(idOfTaken(t));
  }

  /** After a step that succeeded: each part's state from now on, and what the step saw of the parts. */
  private partsAfterStep(): PartStep[] | undefined {
    for (const [part, step] of this.partsOfStep) this.partStateMap.set(part, step.state);
    const out: PartStep[] = [];
    for (const part of this.partNames.values()) {
      const state = this.partStateMap.get(part);
      if (state !== undefined) out.push({ part, state, taken: this.partsOfStep.get(part)?.taken ?? [] });
    }
    return out.length === 0 ? undefined : out;
  }

  /**
   * Applies the write effects of the step just taken in one atomic batch, before its messages
   * leave; returns the error if the writes failed (the step then fails as a whole).
   */
  private persist(): unknown {
    let ops: BatchOp[] | undefined;
    for (const e of this.pendingOut) {
      if (e.type !== PERSIST) continue;
      ops ??= [];
      for (const op of e.ops ?? []) ops.push(op);
    }
    if (ops === undefined) return undefined;
    const storage = this.o.host.storage;
    if (storage === undefined)
      return new Error(`engine ${this.node}/${this.name} asked to write but has no storage`);
    try {
      storage.batch(ops);
    } catch (err) {
      return err ?? new Error('storage write failed');
    }
    return undefined;
  }

  /**
   * The step's writes landed: the signer makes what the step signed its durable record before any
   * of it leaves (a validator key's guard); returns the error if it could not.
   */
  private settleSigner(): unknown {
    try {
      this.o.host.signer?.settle?.(true);
    } catch (err) {
      return err ?? new Error('the signer could not record what it signed');
    }
    return undefined;
  }

  /** Follows the inspector: XState's microsteps are watched (for `taken`) only while it is watched. */
  private syncInspection(): void {
    const actor = this.actor;
    const wanted = this.o.inspector.watched && actor !== undefined;
    if (wanted && this.inspection === undefined) {
      this.inspection = actor.system.inspect((e) => {
        if (e.type !== '@xstate.microstep' || e.actorRef !== this.actor) return;
        const transitions = (e as { _transitions?: readonly { source: TransitionSourceLike }[] })
          ._transitions;
        for (const t of transitions ?? []) this.taken.push(idOfTaken(t));
      });
    } else if (!wanted && this.inspection !== undefined) {
      this.inspection.unsubscribe();
      this.inspection = undefined;
    }
  }

  private onCrash(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.pendingOut = [];
    // nothing the failed step signed has left: the signer forgets it
    this.o.host.signer?.settle?.(false);
    this.record({ kind: 'crash', error: message });
    this.actor?.stop();
    this.actor = undefined;
    this.cancelAllTimers();
    const decision = decideRestart(this.restartHistory, this.o.scheduler.now(), this.o.policy);
    this.restartHistory = decision.history;
    const incurable = isIncurable(err);
    if (!decision.restart || this.lastGood === undefined || incurable) {
      this._status = 'failed';
      this.record({
        kind: 'failed',
        reason: incurable
          ? `its storage failed: ${message}`
          : this.lastGood === undefined
            ? `crashed while starting: ${message}`
            : `restart limit reached: ${message}`,
      });
      return;
    }
    this._restarts++;
    const persisted = this.logic.getPersistedSnapshot(this.lastGood as never) as Snapshot<unknown>;
    this.record({ kind: 'restart', restarts: this._restarts });
    this.spawn(persisted);
  }

  private flush(): void {
    const out = this.pendingOut;
    if (out.length === 0) return;
    this.pendingOut = [];
    for (const e of out) {
      if (e.type === PERSIST) continue; // applied by persist() before anything leaves
      const ch = this.outputs.get(e.type);
      if (ch === undefined) {
        this.record({ kind: 'drop', port: e.type, reason: 'emitted-on-unknown-port' });
        continue;
      }
      let lamport: number;
      if (this.o.inspector.active) {
        this.record({ kind: 'emit', port: e.type });
        lamport = this.o.inspector.lamport(this.node);
      } else lamport = this.o.inspector.tick(this.node);
      ch.publish({ msg: e.msg, from: `${this.name}.${e.type}`, lamport });
    }
  }

  private syncDeadlines(deadlines: Deadlines | undefined): void {
    if (deadlines === this.syncedDeadlines) return;
    this.syncedDeadlines = deadlines;
    if (deadlines === undefined && this.armed.size === 0) return;
    for (const change of diffDeadlines(this.armed, deadlines)) {
      if (change.op === 'cancel') {
        const h = this.timers.get(change.name);
        this.timers.delete(change.name);
        this.armed.delete(change.name);
        if (h !== undefined) {
          this.o.scheduler.cancel(h);
          this.record({ kind: 'timer', op: 'cancel', name: change.name, deadline: change.at });
        }
      } else {
        const prev = this.timers.get(change.name);
        if (prev !== undefined) this.o.scheduler.cancel(prev);
        this.armed.set(change.name, change.at);
        this.timers.set(
          change.name,
          this.o.scheduler.at(this.o.clock.toGlobal(change.at), () => this.fire(change.name, change.at)),
        );
        this.record({ kind: 'timer', op: 'arm', name: change.name, deadline: change.at });
      }
    }
  }

  private fire(name: string, at: number): void {
    // stays armed (so it is not re-armed for the same value) but its handle is spent
    this.timers.delete(name);
    this._mailbox++;
    this.timerLane.push(() => {
      this._mailbox--;
      if (this._status !== 'running' || this.armed.get(name) !== at) return;
      this.record({ kind: 'timer', op: 'fire', name, deadline: at });
      this.step({ type: 'timeout', name, now: Math.max(at, this.o.clock.now()) });
    });
  }

  private cancelAllTimers(): void {
    this.syncedDeadlines = null;
    for (const h of this.timers.values()) this.o.scheduler.cancel(h);
    this.timers.clear();
    this.armed.clear();
  }

  private record(init: { kind: string } & Record<string, unknown>, received?: number): void {
    const insp = this.o.inspector;
    if (init.kind === 'crash' || init.kind === 'restart' || init.kind === 'failed') {
      insp.fault({ ...init, at: this.o.scheduler.now(), node: this.node, engine: this.name } as FaultEvent);
    }
    if (!insp.active) return;
    insp.record(
      { ...init, at: this.o.scheduler.now(), node: this.node, engine: this.name } as Parameters<
        Inspector['record']
      >[0],
      received,
    );
  }
}
