/**
 * An XState machine run as a pure step function: a snapshot and an event give the next snapshot
 * and the transitions taken, with nothing kept between calls. XState's own `transition()` builds
 * a fresh actor and system for every call (tens of microseconds); a machine that spawns, sends,
 * emits and delays nothing needs neither, so one inert scope serves every step, as it would one
 * actor (the technique of engines/consensus/round-machine.ts). The scope's system reports XState's
 * microsteps, and the transitions they took are named as the statechart names them
 * (runtime/transition-id.ts), so a caller can record exactly which drawn edges a step followed.
 * A machine runtime/compiled-machine.ts covers runs there instead, with the same steps and ids.
 */
import {
  type ActorScope,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  createActor,
  type EventFromLogic,
  type SnapshotFrom,
} from 'xstate';
import { type CompiledMachine, type CompiledStep, compiledMachine } from './compiled-machine.ts';
import { idOfTaken, type TransitionSourceLike } from './transition-id.ts';

/** Told of each microstep an inert scope's machine takes: the state reached, the transitions taken. */
export type MicrostepListener = (
  value: unknown,
  transitions: readonly { source: TransitionSourceLike }[],
) => void;

/**
 * The scope a machine's pure transitions run in: an actor's system that is never started (from
 * `sampleInput`, any valid input, when the machine's context needs one), reporting XState's
 * microsteps to `onMicrostep` instead of to inspection observers. Nothing else passes through it:
 * the machine spawns, sends, emits and delays nothing.
 */
export function inertScope<M extends AnyStateMachine>(
  machine: M,
  onMicrostep: MicrostepListener,
  sampleInput?: unknown,
): ActorScope<SnapshotFrom<M>, EventFromLogic<M>> {
  const actor = createActor(
    machine as AnyStateMachine,
    sampleInput === undefined ? {} : { input: sampleInput },
  );
  const system = Object.create(actor.system, {
    _sendInspectionEvent: {
      value: (e: {
        type: string;
        snapshot?: { value?: unknown };
        _transitions?: readonly { source: TransitionSourceLike }[];
      }): void => {
        if (e.type === '@xstate.microstep') onMicrostep(e.snapshot?.value, e._transitions ?? []);
      },
    },
  }) as typeof actor.system;
  return {
    self: actor,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: () => {},
    system,
  } as unknown as ActorScope<SnapshotFrom<M>, EventFromLogic<M>>;
}

export interface PureStep<S> {
  readonly snapshot: S;
  /** the ids of the transitions taken, in order, every hop of an eventless chain included */
  readonly taken: readonly string[];
}

export interface PureMachine<S, E> {
  /** The snapshot a machine starts in, from its input. */
  start(input: unknown): S;
  /** The snapshot `value` names with `context` (e.g. a state kept as plain data). */
  resolve(value: unknown, context: unknown): S;
  /** One event through the machine. */
  step(snapshot: S, event: E): PureStep<S>;
}

/**
 * A pure runner for `machine`. `sampleInput` is any valid input: the inert actor that lends its
 * system to the scope is created from it, and never started.
 */
export function pureMachine<S extends AnyMachineSnapshot, E extends { type: string }>(
  machine: AnyStateMachine,
  sampleInput: unknown,
): PureMachine<S, E> {
  const compiled = compiledMachine(machine);
  if (compiled !== undefined) return compiledPure<S, E>(compiled);
  let taken: string[] = [];
  let scope: ActorScope<AnyMachineSnapshot, E> | undefined;
  const scopeOf = (): ActorScope<AnyMachineSnapshot, E> => {
    scope ??= inertScope(
      machine,
      (_value, transitions) => {
        for (const t of transitions) taken.push(idOfTaken(t));
      },
      sampleInput,
    ) as unknown as ActorScope<AnyMachineSnapshot, E>;
    return scope;
  };
  return {
    start(input) {
      return machine.getInitialSnapshot(scopeOf() as never, input) as S;
    },
    resolve(value, context) {
      return machine.resolveState({ value: value as never, context: context as never }) as S;
    },
    step(snapshot, event) {
      const s = scopeOf();
      taken = [];
      const next = machine.transition(snapshot, event, s as never) as S;
      const out = taken;
      taken = [];
      return { snapshot: next, taken: out };
    },
  };
}

/**
 * The pure runner on runtime/compiled-machine.ts: the same steps and taken ids as XState's
 * `transition`, without its interpreter. Its snapshots carry what callers read of XState's (status,
 * value, context), not XState's methods.
 */
function compiledPure<S, E extends { type: string }>(compiled: CompiledMachine): PureMachine<S, E> {
  let taken: string[] = [];
  const record = (_value: unknown, transitions: readonly { source: TransitionSourceLike }[]) => {
    for (const t of transitions) taken.push(idOfTaken(t));
  };
  const snapshot = (r: CompiledStep): S =>
    ({
      status: r.done ? 'done' : 'active',
      value: r.value,
      context: r.context,
      output: undefined,
      error: undefined,
    }) as S;
  // nothing these machines emit has anywhere to go (XState's pure transition drops it too)
  const drop = () => {};
  return {
    start(input) {
      return snapshot(compiled.start(input, undefined, drop));
    },
    resolve(value, context) {
      return snapshot({ value, context, done: compiled.isFinal(value) });
    },
    step(snapshot0, event) {
      taken = [];
      const s0 = snapshot0 as { value: unknown; context: unknown };
      const next = snapshot(compiled.step(s0.value, s0.context, event, record, drop));
      const out = taken;
      taken = [];
      return { snapshot: next, taken: out };
    },
  };
}
