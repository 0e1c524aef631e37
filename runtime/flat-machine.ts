/**
 * A flat XState machine's transitions, taken without XState's general algorithm.
 *
 * A part (runtime/part.ts; consensus: the round machine) runs one XState macrostep per input, and
 * the simulator runs millions of them: XState's interpreter, built for nested, parallel and
 * history states, spent about a seventh of a simulated consensus step on bookkeeping a machine of
 * flat states never needs. For such a machine the semantics are short, and this module follows
 * them exactly (XState 5's `macrostep`): the event's transition is the first enabled candidate of
 * the state, else of the root; then, while one is enabled, the first eventless (`always`)
 * transition of the state, else of the root; each taken transition runs its `assign` actions in
 * order, each a new context merged over the old, and moves to its target. Every microstep is
 * reported as XState reports it, so a watcher sees the same microsteps either way.
 *
 * Nothing here is copied from a machine: states, transitions, guards and actions are read from the
 * XState definition. A machine this does not cover (nested or parallel states, history, final
 * states, entry or exit actions, delayed transitions, wildcard events, actions other than
 * `assign` of a function, parameterised guards) gets `undefined`, and runs on XState as before.
 * `flat-machine.test.ts` checks the two agree, step for step, on the round machine.
 */
import type { AnyStateMachine } from 'xstate';
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
}

type Guard = (args: { context: unknown; event: unknown }) => boolean;
type Assignment = (args: { context: unknown; event: unknown }) => Record<string, unknown>;

/** A transition ready to run: its guard and its actions resolved to functions. */
interface Compiled {
  readonly def: TransitionDef;
  readonly guardName: string | undefined;
  readonly guard: Guard | undefined;
  readonly assignments: readonly Assignment[];
  /** The state it moves to; undefined: it stays (a targetless transition). */
  readonly target: string | undefined;
}

interface CompiledState {
  /** candidates per event type, the state's own first, then the root's (XState's bubbling) */
  readonly on: ReadonlyMap<string, { readonly own: readonly Compiled[]; readonly root: readonly Compiled[] }>;
  readonly always: readonly Compiled[];
  readonly rootAlways: readonly Compiled[];
}

/** Told of every microstep: the state reached and XState's definitions of the transitions taken. */
export type FlatMicrostep = (value: string, transitions: readonly TransitionDef[]) => void;

export interface FlatMachine {
  /** One event from (`value`, `context`): the state and context after it and every eventless step it enabled. */
  step(
    value: string,
    context: unknown,
    event: { readonly type: string },
    onMicrostep?: FlatMicrostep,
  ): { value: string; context: unknown };
}

class Unsupported extends Error {}

function compileTransition(machine: AnyStateMachine, def: TransitionDef): Compiled {
  const impl = machine.implementations as {
    guards: Record<string, unknown>;
    actions: Record<string, unknown>;
  };
  let guard: Guard | undefined;
  let guardName: string | undefined;
  if (def.guard !== undefined) {
    if (typeof def.guard !== 'string') throw new Unsupported('a guard that is not named');
    const g = impl.guards[def.guard];
    if (typeof g !== 'function' || 'check' in g) throw new Unsupported(`guard '${def.guard}'`);
    guard = g as Guard;
    guardName = def.guard;
  }
  const assignments = def.actions.map((a) => {
    const action = typeof a === 'string' ? impl.actions[a] : a;
    const x = action as { type?: unknown; assignment?: unknown } | undefined;
    if (x === undefined || x.type !== 'xstate.assign' || typeof x.assignment !== 'function')
      throw new Unsupported(`action ${typeof a === 'string' ? `'${a}'` : 'inline'} is not an assign`);
    return x.assignment as Assignment;
  });
  const targets = def.target ?? [];
  if (targets.length > 1) throw new Unsupported('a transition with several targets');
  return { def, guardName, guard, assignments, target: targets[0]?.key };
}

function compileState(
  machine: AnyStateMachine,
  node: StateNodeDef,
  root: StateNodeDef,
  rootOn: ReadonlyMap<string, readonly Compiled[]>,
  rootAlways: readonly Compiled[],
): CompiledState {
  if (node.type !== 'atomic') throw new Unsupported(`state '${node.key}' is ${node.type}`);
  if (node.entry.length > 0 || node.exit.length > 0)
    throw new Unsupported(`entry or exit actions in '${node.key}'`);
  const on = new Map<string, { own: Compiled[]; root: readonly Compiled[] }>();
  for (const [type, defs] of node.transitions)
    on.set(type, { own: defs.map((d) => compileTransition(machine, d)), root: [] });
  for (const [type, defs] of rootOn) {
    const known = on.get(type);
    if (known === undefined) on.set(type, { own: [], root: defs });
    else known.root = defs;
  }
  for (const c of [
    ...[...on.values()].flatMap((x) => x.own),
    ...(node.always ?? []).map((d) => compileTransition(machine, d)),
  ]) {
    if (c.target !== undefined && root.states[c.target] === undefined)
      throw new Unsupported('a target outside the root');
  }
  return { on, always: (node.always ?? []).map((d) => compileTransition(machine, d)), rootAlways };
}

/** The flat runner for `machine`, or undefined if the machine uses what it does not cover. */
export function flatMachine(machine: AnyStateMachine): FlatMachine | undefined {
  let states: ReadonlyMap<string, CompiledState>;
  try {
    const root = machine.root as unknown as StateNodeDef;
    if (root.type !== 'compound' || root.entry.length > 0 || root.exit.length > 0)
      throw new Unsupported('root');
    const rootOn = new Map<string, readonly Compiled[]>();
    for (const [type, defs] of root.transitions)
      rootOn.set(
        type,
        defs.map((d) => compileTransition(machine, d)),
      );
    const rootAlways = (root.always ?? []).map((d) => compileTransition(machine, d));
    const all = new Map<string, CompiledState>();
    for (const [key, node] of Object.entries(root.states))
      all.set(key, compileState(machine, node, root, rootOn, rootAlways));
    for (const s of all.values())
      for (const type of s.on.keys()) if (type.includes('*')) throw new Unsupported('a wildcard event');
    states = all;
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }

  const take = (c: Compiled, value: string, context: unknown, event: unknown) => {
    let ctx = context;
    for (const assign of c.assignments) ctx = Object.assign({}, ctx, assign({ context: ctx, event }));
    return { value: c.target ?? value, context: ctx };
  };
  const enabled = (list: readonly Compiled[], context: unknown, event: unknown): Compiled | undefined => {
    for (const c of list) if (c.guard === undefined || c.guard({ context, event })) return c;
    return undefined;
  };

  return {
    step(value0, context0, event, onMicrostep) {
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
      if (chosen !== undefined) ({ value, context } = take(chosen, value, context, event));
      onMicrostep?.(value, chosen === undefined ? [] : [chosen.def]);
      // eventless transitions while one is enabled (XState: the atomic state first, then its root)
      for (;;) {
        const state = states.get(value)!;
        const next = enabled(state.always, context, event) ?? enabled(state.rootAlways, context, event);
        if (next === undefined) break;
        const before = value;
        ({ value, context } = take(next, value, context, event));
        onMicrostep?.(value, [next.def]);
        // a transition that changed nothing leaves XState's snapshot as it was, which ends the chain
        if (next.assignments.length === 0 && value === before) break;
      }
      return { value, context };
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
