/**
 * An XState machine's transitions, compiled from its definition and taken without XState's
 * general interpreter.
 *
 * Engines and their parts (runtime/part.ts; consensus: the round machine) run one XState macrostep
 * per input, and the simulator runs millions of them: XState's interpreter, built for every
 * statechart feature, spent a third of a simulated consensus step on bookkeeping. For machines of
 * atomic and compound states the semantics are short, and this module follows them exactly
 * (XState 5's `macrostep`): the event's transition is the first enabled candidate of the active
 * state, else of its parent, up to the root; then, while one is enabled, the first eventless
 * (`always`) transition, looked up the same way. A taken transition leaves the active states below
 * its domain (exit actions, deepest first), runs its actions in order (`assign` merging a partial
 * context over the context, `emit` handing an event out, `enqueueActions` running what it enqueued,
 * assigns and emits, in turn), then enters the path from its domain to its target and the
 * target's default children (entry actions, parents first). On start the root and its default
 * children are entered, then the eventless chain. Every microstep is reported as XState reports
 * it, so a watcher sees the same microsteps either way.
 *
 * Nothing here is copied from a machine: states, transitions, guards and actions are read from the
 * XState definition and resolved once. A machine this does not cover (parallel, history or final
 * states, delayed transitions, invoked actors, wildcard events, other actions, parameterised or
 * composed guards) gets `undefined` and runs on XState as before. The tests (compiled-machine.test.ts,
 * engines/consensus/round-machine.test.ts) check the two agree, microstep for microstep, and the
 * simulator's trace hashes, which record every engine's and part's taken transitions, are unchanged.
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

/** A state of the machine, ready to run: its transitions and entry and exit actions resolved. */
interface Node {
  readonly def: StateNodeDef;
  readonly parent: Node | undefined;
  /** Its candidates per event type, in the machine's order. */
  readonly on: Map<string, readonly Compiled[]>;
  always: readonly Compiled[];
  readonly entry: readonly Exec[];
  readonly exit: readonly Exec[];
  /** The child entered by default (compound states). */
  initial: Node | undefined;
  /** For an atomic state: the state value XState gives it (a string at the root, else nested objects). */
  value: unknown;
  /** A final state (a child of the root: entering it ends the machine, status `done`). */
  readonly final: boolean;
}

/** A transition ready to run: its guard and its actions resolved, and the states it leaves and enters. */
interface Compiled {
  readonly def: TransitionDef;
  readonly guardName: string | undefined;
  readonly guard: Guard | undefined;
  readonly actions: readonly Exec[];
  /** undefined: a targetless transition (no state is left or entered) */
  readonly target: Node | undefined;
  /** The transition's domain: the active states below it are left, the path from it to the target entered. */
  readonly domain: Node | undefined;
  /** States entered, parents first: from the domain (exclusive) to the target, then its default descendants. */
  readonly enter: readonly Node[];
}

/** Told of every microstep: the state reached and XState's definitions of the transitions taken. */
export type CompiledMicrostep = (
  value: unknown,
  transitions: readonly TransitionDef[],
  event: unknown,
) => void;

/** Where a step left the machine: its state value, its context, and whether it reached a final state. */
export interface CompiledStep {
  readonly value: unknown;
  readonly context: unknown;
  readonly done: boolean;
}

export interface CompiledMachine {
  /** One event from (`value`, `context`): the state and context after it and every eventless step it enabled. */
  step(
    value: unknown,
    context: unknown,
    event: { readonly type: string },
    onMicrostep?: CompiledMicrostep,
    emit?: Emit,
  ): CompiledStep;
  /** The state and context a fresh start reaches: the context from `input`, the root's entry, the eventless chain. */
  start(input: unknown, onMicrostep?: CompiledMicrostep, emit?: Emit): CompiledStep;
  /** Whether `value` names a final state (a machine in it is done). */
  isFinal(value: unknown): boolean;
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
          throw new Error(`enqueue.${other} in ${name}: the compiled runner takes only assign and emit`);
        };
      }
      // `check` reads the arguments of the run in progress (one closure per action, not per run)
      let checking: Args = { context: undefined, event: undefined };
      const check = (guard: unknown) => guardOf(impl, guard)(checking);
      return (context, event, emit) => {
        queued.length = 0;
        checking = { context, event };
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

/**
 * `assign({ key: value or (args) => value })`: the partial context it names (the assignment
 * itself, only read, when it names values only, as an engine's `enqueue.assign({ ... })` does).
 */
function resolveParts(assignment: unknown, context: unknown, event: unknown): Record<string, unknown> {
  const named = assignment as Record<string, unknown>;
  let partial: Record<string, unknown> | undefined;
  for (const k of Object.keys(named)) {
    const v = named[k];
    if (typeof v !== 'function') continue;
    partial ??= { ...named };
    partial[k] = v({ context, event });
  }
  return partial ?? named;
}

function guardOf(impl: Implementations, guard: unknown): Guard {
  if (typeof guard !== 'string') throw new Unsupported('a guard that is not named');
  const g = impl.guards[guard];
  if (typeof g !== 'function' || 'check' in g) throw new Unsupported(`guard '${guard}'`);
  return g as Guard;
}

/** Whether `a` is `b` or below it. */
function within(a: Node, b: Node): boolean {
  for (let n: Node | undefined = a; n !== undefined; n = n.parent) if (n === b) return true;
  return false;
}

/** `n` and the states entered by default below it (its initial child, that one's, ...). */
function withDefaults(n: Node): Node[] {
  const out = [n];
  for (let c = n.initial; c !== undefined; c = c.initial) out.push(c);
  return out;
}

function compileTransition(
  impl: Implementations,
  nodes: ReadonlyMap<StateNodeDef, Node>,
  source: Node,
  def: TransitionDef,
): Compiled {
  const guard = def.guard === undefined ? undefined : guardOf(impl, def.guard);
  const actions = def.actions.map((a) => compileAction(impl, a));
  const targets = def.target ?? [];
  if (targets.length > 1) throw new Unsupported('a transition with several targets');
  const targetDef = targets[0] as StateNodeDef | undefined;
  let target: Node | undefined;
  let domain: Node | undefined;
  let enter: Node[] = [];
  if (targetDef !== undefined) {
    target = nodes.get(targetDef);
    if (target === undefined) throw new Unsupported('a target outside the machine');
    const reenter = (def as { reenter?: boolean }).reenter === true;
    // XState's transition domain: the source itself when the target is in it and nothing re-enters,
    // else the nearest proper ancestor of the source that holds the target
    if (!reenter && within(target, source)) domain = source;
    else {
      domain = source.parent;
      while (domain !== undefined && !within(target, domain)) domain = domain.parent;
      if (domain === undefined) throw new Unsupported('a transition out of the root');
    }
    const path: Node[] = [];
    for (let n: Node | undefined = target; n !== undefined && n !== domain; n = n.parent) path.unshift(n);
    // a state targeting itself from within re-enters nothing, but its default descendants
    enter =
      path.length === 0 ? withDefaults(target).slice(1) : [...path.slice(0, -1), ...withDefaults(target)];
  }
  return {
    def,
    guardName: typeof def.guard === 'string' ? def.guard : undefined,
    guard,
    actions,
    target,
    domain,
    enter,
  };
}

/** The compiled runner for `machine`, or undefined if the machine uses what it does not cover. */
export function compiledMachine(machine: AnyStateMachine): CompiledMachine | undefined {
  const r = compile(machine);
  return typeof r === 'string' ? undefined : r;
}

/** Why the compiled runner does not cover `machine` (undefined: it does). */
export function notCompiledBecause(machine: AnyStateMachine): string | undefined {
  const r = compile(machine);
  return typeof r === 'string' ? r : undefined;
}

function compile(machine: AnyStateMachine): CompiledMachine | string {
  const impl = machine.implementations as unknown as Implementations;
  const rootDef = machine.root as unknown as StateNodeDef;
  const nodes = new Map<StateNodeDef, Node>();
  let root: Node;
  let contextOf: (input: unknown) => unknown;
  try {
    const build = (def: StateNodeDef, parent: Node | undefined, path: readonly string[]): Node => {
      const final = def.type === 'final';
      // a final child of the root ends the machine (the root's done event is never taken); a final
      // state deeper raises done events for its parent, which this runner does not take
      if (final && (parent === undefined || parent.parent !== undefined))
        throw new Unsupported('a final state below the root');
      if (
        final &&
        ((def as { output?: unknown }).output !== undefined ||
          (rootDef as { output?: unknown }).output !== undefined)
      )
        throw new Unsupported('a machine with output');
      if (def.type !== 'compound' && def.type !== 'atomic' && !final)
        throw new Unsupported(`a ${def.type} state`);
      if (((def as { invoke?: readonly unknown[] }).invoke ?? []).length > 0) throw new Unsupported('invoke');
      const node: Node = {
        def,
        parent,
        on: new Map(),
        always: [],
        entry: def.entry.map((a) => compileAction(impl, a)),
        exit: def.exit.map((a) => compileAction(impl, a)),
        initial: undefined,
        value: undefined,
        final,
      };
      nodes.set(def, node);
      const children = Object.entries(def.states ?? {});
      for (const [key, child] of children) build(child, node, [...path, key]);
      if (def.type === 'compound') {
        const init = def.initial;
        if (
          init === undefined ||
          init.target.length !== 1 ||
          ((init as { actions?: readonly unknown[] }).actions ?? []).length > 0
        )
          throw new Unsupported(`the initial state of '${def.id}'`);
        node.initial = nodes.get(init.target[0] as StateNodeDef);
        if (node.initial === undefined || node.initial.parent !== node)
          throw new Unsupported(`the initial state of '${def.id}'`);
      } else {
        // the value XState gives an atomic state: 'a' at the root, { a: 'b' } below a, ...
        let v: unknown = path[path.length - 1];
        for (let i = path.length - 2; i >= 0; i--) v = Object.freeze({ [path[i]!]: v });
        node.value = v;
      }
      return node;
    };
    root = build(rootDef, undefined, []);
    if (root.def.type !== 'compound') throw new Unsupported('an atomic root');
    for (const node of nodes.values()) {
      for (const [type, defs] of node.def.transitions) {
        if (type.includes('*')) throw new Unsupported('a wildcard event');
        node.on.set(
          type,
          defs.map((d) => compileTransition(impl, nodes, node, d)),
        );
      }
      node.always = (node.def.always ?? []).map((d) => compileTransition(impl, nodes, node, d));
    }
    const config = (machine as unknown as { config: { context?: unknown } }).config.context;
    contextOf =
      typeof config === 'function'
        ? (input) => (config as (a: { input: unknown }) => unknown)({ input })
        : () => config;
  } catch (e) {
    if (e instanceof Unsupported) return e.message;
    throw e;
  }

  /** The atomic state a state value names. */
  const atomicCache = new Map<unknown, Node>();
  const atomicOf = (value: unknown): Node => {
    const known = atomicCache.get(value);
    if (known !== undefined) return known;
    let n: Node = root;
    let v: unknown = value;
    for (;;) {
      if (typeof v === 'string') {
        const child = n.def.states[v];
        const c = child === undefined ? undefined : nodes.get(child);
        if (c === undefined) throw new Error(`${machine.id} has no state ${JSON.stringify(value)}`);
        n = c;
        break;
      }
      const keys = v !== null && typeof v === 'object' ? Object.keys(v) : [];
      const child = keys.length === 1 ? n.def.states[keys[0]!] : undefined;
      const c = child === undefined ? undefined : nodes.get(child);
      if (c === undefined) throw new Error(`${machine.id} has no state ${JSON.stringify(value)}`);
      n = c;
      v = (v as Record<string, unknown>)[keys[0]!];
    }
    while (n.initial !== undefined) n = n.initial;
    // a string names one state for good; an object value is cached by the object XState or we made
    if (typeof value === 'string' || Object.isFrozen(value)) atomicCache.set(value, n);
    return n;
  };

  /** Takes `c` from `atomic`: exits (deepest first), its actions, entries (parents first). */
  const take = (c: Compiled, atomic: Node, context: unknown, event: unknown, emit: Emit) => {
    let ctx = context;
    let moved = false;
    if (c.target !== undefined) {
      for (let n: Node | undefined = atomic; n !== undefined && n !== c.domain; n = n.parent) {
        for (const run of n.exit) ctx = run(ctx, event, emit);
        moved = true;
      }
    }
    for (const run of c.actions) ctx = run(ctx, event, emit);
    let next = atomic;
    for (const n of c.enter) {
      for (const run of n.entry) ctx = run(ctx, event, emit);
      next = n;
      moved = true;
    }
    return { atomic: next, context: ctx, moved };
  };
  const enabled = (list: readonly Compiled[], args: Args): Compiled | undefined => {
    for (const c of list) if (c.guard === undefined || c.guard(args)) return c;
    return undefined;
  };
  /** Eventless transitions while one is enabled (XState: the atomic state's first, then its ancestors'). */
  const settle = (
    atomic0: Node,
    context0: unknown,
    event: unknown,
    onMicrostep: CompiledMicrostep | undefined,
    emit: Emit,
  ) => {
    let atomic = atomic0;
    let context = context0;
    // XState takes eventless transitions only while the machine is active
    while (!atomic.final) {
      let next: Compiled | undefined;
      // one arguments object for every guard this microstep asks (guards only read it)
      const args: Args = { context, event };
      for (let n: Node | undefined = atomic; n !== undefined && next === undefined; n = n.parent)
        if (n.always.length > 0) next = enabled(n.always, args);
      if (next === undefined) break;
      const r = take(next, atomic, context, event, emit);
      // a transition that changed nothing leaves XState's snapshot as it was, which ends the chain
      const changed = r.moved || r.context !== context;
      atomic = r.atomic;
      context = r.context;
      onMicrostep?.(atomic.value, [next.def], event);
      if (!changed) break;
    }
    return { value: atomic.value, context, done: atomic.final };
  };

  return {
    step(value, context0, event, onMicrostep, emit) {
      const atomic0 = atomicOf(value);
      let atomic = atomic0;
      let context = context0;
      // the event's microstep: the first enabled candidate from the atomic state up (guards wrapped as XState does)
      let chosen: Compiled | undefined;
      for (let n: Node | undefined = atomic0; n !== undefined && chosen === undefined; n = n.parent) {
        const candidates = n.on.get(event.type);
        if (candidates !== undefined) chosen = pickWrapped(candidates, context, event, n.def.id);
      }
      if (chosen !== undefined) ({ atomic, context } = take(chosen, atomic, context, event, emit));
      onMicrostep?.(atomic.value, chosen === undefined ? [] : [chosen.def], event);
      return settle(atomic, context, event, onMicrostep, emit);
    },
    isFinal(value) {
      return atomicOf(value).final;
    },
    start(input, onMicrostep, emit) {
      const event = { type: 'xstate.init', input };
      let context = contextOf(input);
      let atomic = root;
      for (const n of withDefaults(root)) {
        for (const run of n.entry) context = run(context, event, emit);
        atomic = n;
      }
      return settle(atomic, context, event, onMicrostep, emit);
    },
  };
}

function pickWrapped(list: readonly Compiled[], context: unknown, event: { type: string }, nodeId: string) {
  const args: Args = { context, event };
  for (const c of list) {
    let passed: boolean;
    try {
      passed = c.guard === undefined || c.guard(args);
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

/** A snapshot of a machine run by `compiledLogic`: what the runtime reads of an XState snapshot. */
export type CompiledSnapshot = Snapshot<undefined> & { readonly value: unknown; readonly context: unknown };

/**
 * `machine` as XState actor logic on the compiled runner (an actor created from it behaves as one of
 * the machine: emitted events reach `actor.on`, microsteps reach the system's inspection), or
 * undefined when the runner does not cover the machine.
 */
export function compiledLogic(
  machine: AnyStateMachine,
): ActorLogic<CompiledSnapshot, EventObject, unknown> | undefined {
  const compiled = compiledMachine(machine);
  if (compiled === undefined) return undefined;
  type Scope = ActorScope<CompiledSnapshot, EventObject>;
  // what a scope is told, made once per actor (a closure made per step costs, and steps are many)
  const hooksOf = new WeakMap<object, { report: CompiledMicrostep; emit: (e: EventObject) => void }>();
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
  const snapshot = (r: CompiledStep): CompiledSnapshot =>
    r.done
      ? { status: 'done', value: r.value, context: r.context, output: undefined, error: undefined }
      : { status: 'active', value: r.value, context: r.context, output: undefined, error: undefined };
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
      return snapshot(compiled.step(s.value, s.context, event, h.report, h.emit));
    },
    getInitialSnapshot(scope, input) {
      const h = hooks(scope);
      return snapshot(compiled.start(input, h.report, h.emit));
    },
    getPersistedSnapshot(s) {
      return s;
    },
    restoreSnapshot(s) {
      return s as CompiledSnapshot;
    },
  };
}
