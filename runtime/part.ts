/**
 * Parts: machines an engine's pure core runs inside its steps (`EngineDefinition.parts`; consensus:
 * the round machine), one pure transition per input, with no actor of their own.
 *
 * `partStep(machine)` is that pure step: on runtime/compiled-machine.ts when it covers the machine,
 * else on XState's `transition` (`partTransition`). While the runtime inspects an engine's step (only
 * while its inspector is active) it watches the microsteps of the parts the step runs
 * (`watchParts`): the transitions they took and the state each reached. Watching only reports:
 * what a transition returns is the same whether anyone watches or not, so a run (and its trace
 * hash) does not depend on it, and nobody watching costs one comparison per microstep.
 */
import type { ActorScope, AnyStateMachine, EventFromLogic, SnapshotFrom } from 'xstate';
import { compiledMachine } from './compiled-machine.ts';
import { inertScope } from './pure-machine.ts';
import type { TransitionSourceLike } from './transition-id.ts';

/** Told of every microstep of a part taken while it watches. */
export interface PartWatcher {
  /** `machine` took `transitions` (XState's definitions, in order) and reached `value`. */
  microstep(
    machine: AnyStateMachine,
    value: unknown,
    transitions: readonly { source: TransitionSourceLike }[],
  ): void;
}

/** Steps run one at a time and never inside one another, but an outer watcher is restored anyway. */
let watcher: PartWatcher | undefined;

/** Runs `run` with `w` watching the parts it steps. */
export function watchParts<T>(w: PartWatcher, run: () => T): T {
  const outer = watcher;
  watcher = w;
  try {
    return run();
  } finally {
    watcher = outer;
  }
}

/** A part's pure step: the snapshot after `event`, from the snapshot before it. */
export function partTransition<M extends AnyStateMachine>(
  machine: M,
): (snapshot: SnapshotFrom<M>, event: EventFromLogic<M>) => SnapshotFrom<M> {
  let scope: ActorScope<SnapshotFrom<M>, EventFromLogic<M>> | undefined;
  return (snapshot, event) => {
    // microsteps go to whoever watches now (the runtime, while it inspects this engine's step)
    scope ??= inertScope(machine, (value, transitions) => watcher?.microstep(machine, value, transitions));
    return machine.transition(snapshot, event, scope) as SnapshotFrom<M>;
  };
}

/**
 * A part's pure step on its state as plain data: the state value and context after `event`. A
 * machine the compiled runner covers runs on it (the same transitions, reported to the watcher as
 * XState reports them, at a fraction of the cost); any other on XState's `transition`.
 */
export function partStep<M extends AnyStateMachine>(
  machine: M,
): (value: unknown, context: unknown, event: EventFromLogic<M>) => { value: unknown; context: unknown } {
  const compiled = compiledMachine(machine);
  if (compiled !== undefined) {
    const report = (value: unknown, transitions: readonly { source: TransitionSourceLike }[]) =>
      watcher?.microstep(machine, value, transitions);
    return (value, context, event) =>
      compiled.step(value, context, event, watcher === undefined ? undefined : report);
  }
  const transition = partTransition(machine);
  return (value, context, event) => {
    const next = transition(machine.resolveState({ value, context } as never) as SnapshotFrom<M>, event) as {
      value: unknown;
      context: unknown;
    };
    return { value: next.value, context: next.context };
  };
}
