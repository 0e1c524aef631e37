/**
 * A flat XState machine's transitions, taken without XState's general algorithm.
 *
 * Engines and their parts (runtime/part.ts; consensus: the round machine) run one XState macrostep
 * per input, and the simulator runs millions of them: XState's interpreter, built for nested,
 * parallel and history states, spent a third of a simulated consensus step on bookkeeping that a
 * machine of flat states never needs. For such a machine the semantics are short, and this module
 * follows them exactly (XState 5's `macrostep`): the event's transition is the first enabled
 * candidate of the state, else of the root; then, while one is enabled, the first eventless
 * (`always`) transition of the state, else of the root. A taken transition runs its actions in
 * order, `assign` merging a partial context over the context, `emit` handing an event out,
 * `enqueueActions` running what it enqueues (assigns and emits) in turn, and moves to its target.
 * On start the root's entry actions run, then the eventless chain. Every microstep is reported as
 * XState reports it, so a watcher sees the same microsteps either way.
 *
 * Nothing here is copied from a machine: states, transitions, guards and actions are read from the
 * XState definition. A machine this does not cover (nested or parallel states, history, final
 * states, entry or exit actions on states, delayed transitions, wildcard events, other actions,
 * parameterised or composed guards) gets `undefined` and runs on XState as before. The tests
 * (flat-machine.test.ts, round-machine.test.ts) check the two agree, step for step.
 */
import type { ActorLogic, ActorScope, AnyStateMachine, EventObject, Snapshot } from 'xstate';
import type { TransitionSourceLike } from './transition-id.ts';

/** What a transition is in XState's definition, as far as this module reads it. */
interface TransitionDef {
  readonly guard?: unknown;
  readonly actions: readonly unknown[];
  readonly target?: readonly { readonly key: string; readonly parent?: unknown }[];
  readonly eventType: string;
  readonly source: TransitionSourceLike;
}

interface StateNodeDef {
  readonly key: string;
  readonly type: string;
  readonly parent?: StateNodeDef;
  readonly states: Readonly<Record<string, StateNodeDef>>;
  readonly entry: readonly unknown[];
  readonly exit: readonly unknown[];
  readonly transitions: ReadonlyMap<string, readonly TransitionDef[]>;
  readonly always?: readonly TransitionDef[];
  readonly id: string;
  readonly initial?: { readonly target: readonly { readonly key: string }[] };
}

type Args = { context: unknown; event: unknown };
type Guard = (args: Args) => boolean;
/** Where emitted events go; undefined: the machine may not emit (a part). */
type Emit = ((event: EventObject) => void) | undefined;
/** An action, run: the context after it. */
type Exec = (context: unknown, event: unknown, emit: Emit) => unknown;

/** A transition ready to run: its guard and its actions resolved to functions. */
interface Compiled {
  readonly def: TransitionDef;
  readonly guardName: string | undefined;
  readonly guard: Guard | undefined;
  readonly actions: readonly Exec[];
  /** The state it moves to; undefined: it stays (a targetless transition). */
  readonly target: string | undefined;
}

interface CompiledState {
  /** candidates per event type: the state's own first, then the root's (XState's bubbling) */
  readonly on: ReadonlyMap<string, { readonly own: readonly Compiled[]; root: readonly Compiled[] }>;
  readonly always: readonly Compiled[];
  readonly rootAlways: readonly Compiled[];
}

/** Told of every microstep: the state reached and XState's definitions of the transitions taken. */
export type FlatMicrostep = (value: string, transitions: readonly TransitionDef[], event: unknown) => void;

export interface FlatMachine {
  /** One event from (`value`, `context`): the state and context after it and every eventless step it enabled. */
  step(
    value: string,
    context: unknown,
    event: { readonly type: string },
    onMicrostep?: FlatMicrostep,
    emit?: Emit,
  ): { value: string; context: unknown };
  /** The state and context a fresh start reaches: the context from `input`, the root's entry, the eventless chain. */
  start(input: unknown, onMicrostep?: FlatMicrostep, emit?: Emit): { value: string; context: unknown };
}

class Unsupported extends Error {}

interface Implementations {
  readonly guards: Readonly<Record<string, unknown>>;
  readonly actions: Readonly<Record<string, unknown>>;
}

/** Runs one action; `enqueueActions` resolves what it enqueued at run time, as XState does. */
function compileAction(impl: Implementations, a: unknown): Exec {
  const action = (typeof a === 'string' ? impl.actions[a] : a) as
    | { type?: unknown; assignment?: unknown; event?: unknown; collect?: unknown }
    | undefined;
  const name = typeof a === 'string' ? `'${a}'` : 'inline';
  switch (action?.type) {
    case 'xstate.assign': {
      const assignment = action.assignment;
      if (typeof assignment === 'function')
        return (context, event) => Object.assign({}, context, assignment({ context, event }));
      if (assignment !== null && typeof assignment === 'object')
        return (context, event) => Object.assign({}, context, resolveParts(assignment, context, event));
      throw new Unsupported(`assign ${name}`);
    }
    case 'xstate.emit': {
      const e = action.event;
      if (typeof e !== 'function' && (e === null || typeof e !== 'object'))
        throw new Unsupported(`emit ${name}`);
      return (context, event, emit) => {
        if (emit === undefined)
          throw new Error(`action ${name} emits, and nothing takes what this machine emits`);
        emit(typeof e === 'function' ? e({ context, event }) : (e as EventObject));
        return context;
      };
    }
    case 'xstate.enqueueActions': {
      const collect = action.collect;
      if (typeof collect !== 'function') throw new Unsupported(`enqueueActions ${name}`);
      // one queue per action: a step runs one action at a time and never inside another
      const queued: { kind: 'assign' | 'emit' | 'action'; x: unknown }[] = [];
      const enqueue = (x: unknown) => {
        queued.push({ kind: 'action', x });
      };
      enqueue.assign = (x: unknown) => queued.push({ kind: 'assign', x });
      enqueue.emit = (x: unknown) => queued.push({ kind: 'emit', x });
      for (const other of ['cancel', 'raise', 'sendTo', 'sendParent', 'spawnChild', 'stopChild'] as const) {
        (enqueue as unknown as Record<string, unknown>)[other] = () => {
          throw new Error(`enqueue.${other} in ${name}: the flat runner takes only assign and emit`);
        };
      }
      return (context, event, emit) => {
        queued.length = 0;
        const check = (guard: unknown) => guardOf(impl, guard)({ context, event });
        collect({ context, event, enqueue, check }, undefined);
        const run = queued.splice(0);
        let ctx = context;
        for (const q of run) {
          if (q.kind === 'assign') {
            const x = q.x;
            const partial = typeof x === 'function' ? x({ context: ctx, event }) : x;
            ctx = Object.assign(
              {},
              ctx,
              typeof x === 'function' ? partial : resolveParts(partial, ctx, event),
            );
          } else if (q.kind === 'emit') {
            if (emit === undefined)
              throw new Error(`${name} emits, and nothing takes what this machine emits`);
            emit(typeof q.x === 'function' ? q.x({ context: ctx, event }) : (q.x as EventObject));
          } else ctx = compileAction(impl, q.x)(ctx, event, emit);
        }
        return ctx;
      };
    }
    default:
      throw new Unsupported(`action ${name}`);
  }
}

/** `assign({ key: value or (args) => value })`: the partial context it names. */
function resolveParts(assignment: unknown, context: unknown, event: unknown): Record<string, unknown> {
  const partial: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(assignment as Record<string, unknown>))
    partial[k] = typeof v === 'function' ? v({ context, event }) : v;
  return partial;
}

function guardOf(impl: Implementations, guard: unknown): Guard {
  if (typeof guard !== 'string') throw new Unsupported('a guard that is not named');
  const g = impl.guards[guard];
  if (typeof g !== 'function' || 'check' in g) throw new Unsupported(`guard '${guard}'`);
  return g as Guard;
}

function compileTransition(impl: Implementations, root: StateNodeDef, def: TransitionDef): Compiled {
  const guard = def.guard === undefined ? undefined : guardOf(impl, def.guard);
  const actions = def.actions.map((a) => compileAction(impl, a));
  const targets = def.target ?? [];
  if (targets.length > 1) throw new Unsupported('a transition with several targets');
  const target = targets[0];
  if (target !== undefined && target.parent !== root)
    throw new Unsupported('a target that is not a state of the root');
  return {
    def,
    guardName: typeof def.guard === 'string' ? def.guard : undefined,
    guard,
    actions,
    target: target?.key,
  };
}

function compileState(
  impl: Implementations,
  node: StateNodeDef,
  root: StateNodeDef,
  rootOn: ReadonlyMap<string, readonly Compiled[]>,
  rootAlways: readonly Compiled[],
): CompiledState {
  if (node.type !== 'atomic') throw new Unsupported(`state '${node.key}' is ${node.type}`);
  if (node.entry.length > 0 || node.exit.length > 0)
    throw new Unsupported(`entry or exit actions in '${node.key}'`);
  const on = new Map<string, { own: readonly Compiled[]; root: readonly Compiled[] }>();
  for (const [type, defs] of node.transitions)
    on.set(type, { own: defs.map((d) => compileTransition(impl, root, d)), root: [] });
  for (const [type, defs] of rootOn) {
    const known = on.get(type);
    if (known === undefined) on.set(type, { own: [], root: defs });
    else known.root = defs;
  }
  for (const type of on.keys()) if (type.includes('*')) throw new Unsupported('a wildcard event');
  return { on, always: (node.always ?? []).map((d) => compileTransition(impl, root, d)), rootAlways };
}

/** The flat runner for `machine`, or undefined if the machine uses what it does not cover. */
export function flatMachine(machine: AnyStateMachine): FlatMachine | undefined {
  const impl = machine.implementations as unknown as Implementations;
  const root = machine.root as unknown as StateNodeDef;
  let states: ReadonlyMap<string, CompiledState>;
  let rootEntry: readonly Exec[];
  let initial: string;
  let contextOf: (input: unknown) => unknown;
  try {
    if (root.type !== 'compound' || root.exit.length > 0) throw new Unsupported('root');
    const first = root.initial?.target;
    if (first === undefined || first.length !== 1) throw new Unsupported('initial state');
    initial = first[0]!.key;
    rootEntry = root.entry.map((a) => compileAction(impl, a));
    const rootOn = new Map<string, readonly Compiled[]>();
    for (const [type, defs] of root.transitions)
      rootOn.set(
        type,
        defs.map((d) => compileTransition(impl, root, d)),
      );
    const rootAlways = (root.always ?? []).map((d) => compileTransition(impl, root, d));
    const all = new Map<string, CompiledState>();
    for (const [key, node] of Object.entries(root.states))
      all.set(key, compileState(impl, node, root, rootOn, rootAlways));
    states = all;
    const config = (machine as unknown as { config: { context?: unknown } }).config.context;
    contextOf =
      typeof config === 'function'
        ? (input) => (config as (a: { input: unknown }) => unknown)({ input })
        : () => config;
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }

  const take = (c: Compiled, value: string, context: unknown, event: unknown, emit: Emit) => {
    let ctx = context;
    for (const run of c.actions) ctx = run(ctx, event, emit);
    return { value: c.target ?? value, context: ctx };
  };
  const enabled = (list: readonly Compiled[], context: unknown, event: unknown): Compiled | undefined => {
    for (const c of list) if (c.guard === undefined || c.guard({ context, event })) return c;
    return undefined;
  };
  /** Eventless transitions while one is enabled (XState: the atomic state's first, then its root's). */
  const settle = (
    value0: string,
    context0: unknown,
    event: unknown,
    onMicrostep: FlatMicrostep | undefined,
    emit: Emit,
  ) => {
    let value = value0;
    let context = context0;
    for (;;) {
      const state = states.get(value)!;
      const next = enabled(state.always, context, event) ?? enabled(state.rootAlways, context, event);
      if (next === undefined) break;
      const before = value;
      ({ value, context } = take(next, value, context, event, emit));
      onMicrostep?.(value, [next.def], event);
      // a transition that changed nothing leaves XState's snapshot as it was, which ends the chain
      if (next.actions.length === 0 && value === before) break;
    }
    return { value, context };
  };

  return {
    step(value0, context0, event, onMicrostep, emit) {
      const state0 = states.get(value0);
      if (state0 === undefined) throw new Error(`${machine.id} has no state '${value0}'`);
      let value = value0;
      let context = context0;
      // the event's microstep: the state's own candidates, then the root's (guards wrapped as XState does)
      const candidates = state0.on.get(event.type);
      let chosen: Compiled | undefined;
      if (candidates !== undefined) {
        chosen = pickWrapped(candidates.own, context, event, `${machine.id}.${value0}`);
        chosen ??= pickWrapped(candidates.root, context, event, machine.id);
      }
      if (chosen !== undefined) ({ value, context } = take(chosen, value, context, event, emit));
      onMicrostep?.(value, chosen === undefined ? [] : [chosen.def], event);
      return settle(value, context, event, onMicrostep, emit);
    },
    start(input, onMicrostep, emit) {
      const event = { type: 'xstate.init', input };
      let context = contextOf(input);
      for (const run of rootEntry) context = run(context, event, emit);
      return settle(initial, context, event, onMicrostep, emit);
    },
  };
}

function pickWrapped(list: readonly Compiled[], context: unknown, event: { type: string }, nodeId: string) {
  for (const c of list) {
    let passed: boolean;
    try {
      passed = c.guard === undefined || c.guard({ context, event });
    } catch (err) {
      const name = c.guardName === undefined ? '' : `'${c.guardName}' `;
      throw new Error(
        `Unable to evaluate guard ${name}in transition for event '${event.type}' in state node '${nodeId}':\n${(err as Error).message}`,
      );
    }
    if (passed) return c;
  }
  return undefined;
}

/** A snapshot of a machine run by `flatLogic`: what the runtime reads of an XState snapshot. */
export type FlatSnapshot = Snapshot<undefined> & { readonly value: string; readonly context: unknown };

/**
 * `machine` as XState actor logic on the flat runner (an actor created from it behaves as one of
 * the machine: emitted events reach `actor.on`, microsteps reach the system's inspection), or
 * undefined when the runner does not cover the machine.
 */
export function flatLogic(
  machine: AnyStateMachine,
): ActorLogic<FlatSnapshot, EventObject, unknown> | undefined {
  const flat = flatMachine(machine);
  if (flat === undefined) return undefined;
  type Scope = ActorScope<FlatSnapshot, EventObject>;
  // what a scope is told, made once per actor (a closure made per step costs, and steps are many)
  const hooksOf = new WeakMap<object, { report: FlatMicrostep; emit: (e: EventObject) => void }>();
  const hooks = (scope: Scope) => {
    let h = hooksOf.get(scope);
    if (h === undefined) {
      const system = scope.system as unknown as { _sendInspectionEvent(e: unknown): void };
      h = {
        report: (value, transitions, event) =>
          system._sendInspectionEvent({
            type: '@xstate.microstep',
            actorRef: scope.self,
            event,
            snapshot: { value },
            _transitions: transitions,
          }),
        // an emitted event leaves once the step is done, as XState's `emit` defers it
        emit: (e) => scope.defer(() => scope.emit(e as never)),
      };
      hooksOf.set(scope, h);
    }
    return h;
  };
  const snapshot = (r: { value: string; context: unknown }): FlatSnapshot => ({
    status: 'active',
    value: r.value,
    context: r.context,
    output: undefined,
    error: undefined,
  });
  return {
    config: machine,
    transition(s, event, scope) {
      if (event.type === 'xstate.stop') {
        // XState reports stopping as a microstep that takes nothing
        hooks(scope).report(s.value, [], event);
        return { value: s.value, context: s.context, status: 'stopped', output: undefined, error: undefined };
      }
      if (s.status !== 'active') return s;
      const h = hooks(scope);
      return snapshot(flat.step(s.value, s.context, event, h.report, h.emit));
    },
    getInitialSnapshot(scope, input) {
      const h = hooks(scope);
      return snapshot(flat.start(input, h.report, h.emit));
    },
    getPersistedSnapshot(s) {
      return s;
    },
    restoreSnapshot(s) {
      return s as FlatSnapshot;
    },
  };
}
