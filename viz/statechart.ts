/**
 * A neutral statechart model read from an engine's XState v5 machine (its `root` StateNode tree),
 * for documents (Mermaid, JSON) and, later, the live visualiser.
 *
 * - States are named by their dotted path from the machine id (`executor.executing.decode`), the
 *   root included (`executor`, parent `null`), in document order.
 * - Transitions are listed per source state in document order: `on` handlers (in the machine's
 *   order, which is also their priority), then eventless `always` ones (event `always`). Delayed
 *   ones read `after <delay>`, XState's done/error events `done`, `done(<actor>)`, `error(<actor>)`
 *   (an invoked actor by its source's name).
 *   A transition with several targets appears once per target.
 * - A transition that does not leave its state (no target, or its own state as target without
 *   `reenter`) is `internal: true`, with `to` = `from`. A re-entering self-transition is an
 *   ordinary one with `reenter: true`.
 * - Guards: a named guard's name, a parameterised one as `name(key=value)`, XState's combinators as
 *   `not(g)`, `and(g, h)`, `or(g, h)`, `in(state)`; an anonymous inline function is `inline`.
 *   Actions likewise: named ones by name, XState's built-ins by kind (`assign`, `emit`, …), inline
 *   functions by function name or `inline`. The raise/cancel pair XState adds for `after` is left out.
 */
import type { AnyStateMachine } from 'xstate';
import { type EngineDefinition, type EngineHost, machineOf, type PortSchemas } from '../runtime/engine.ts';
import { transitionId, transitionsInOrder } from '../runtime/transition-id.ts';
import { MemoryStorage } from '../storage/memory.ts';

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartPort {
  name: string;
  /** the port's wire schema name */
  schema: string;
}

export interface ChartState {
  /** dotted path from the machine id, e.g. `executor.executing.decode` */
  id: string;
  /** the parent's id; `null` for the machine's root */
  parent: string | null;
  type: StateType;
  /** a compound state's initial child (its id) */
  initial?: string;
  /** a history state's depth */
  history?: 'shallow' | 'deep';
  entry?: string[];
  exit?: string[];
  /** invoked actors, by source name */
  invoke?: string[];
}

export interface ChartTransition {
  /** `<from>#<position>` (runtime/transition-id.ts): what the runtime records when it is taken */
  id: string;
  from: string;
  to: string;
  /** the event type; `always` for an eventless transition */
  event: string;
  guard?: string;
  actions?: string[];
  /** handled in place: the state is not left (targetless, or its own state without reenter) */
  internal?: true;
  /** a self-transition that exits and re-enters its state */
  reenter?: true;
}

export interface Statechart {
  /** the engine definition's name; `<engine>.<part>` for a machine the engine's core runs; the
   * machine's own name for one outside the engine graph */
  engine: string;
  /** for a part: the engine whose core runs it on every input (its events are not ports) */
  partOf?: string;
  /** for a machine outside the engine graph (the peer session): what runs it */
  runBy?: string;
  /** the machine's id */
  id: string;
  inputs: ChartPort[];
  outputs: ChartPort[];
  states: ChartState[];
  transitions: ChartTransition[];
}

/** The name given to guards and actions that are anonymous inline functions. */
export const INLINE = 'inline';

/** Function names JavaScript gives inline functions from the property they are written in. */
const PROPERTY_NAMES = new Set(['', 'guard', 'actions', 'entry', 'exit', 'action']);

// --- structural views of XState's StateNode internals (typed loosely: they are not all public) ---

interface NodeLike {
  key: string;
  path: string[];
  type: StateType;
  history: false | 'shallow' | 'deep';
  states: Record<string, NodeLike>;
  parent?: NodeLike;
  machine: { id: string };
  entry: unknown[];
  exit: unknown[];
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
  initial?: { target: readonly NodeLike[] };
  invoke: { id: string; src: unknown }[];
  config: { initial?: unknown };
}

interface TransitionLike {
  target: readonly NodeLike[] | undefined;
  source: NodeLike;
  actions: readonly unknown[];
  reenter: boolean;
  guard?: unknown;
  eventType: string;
  delay?: unknown;
}

/** The dotted path of a state node: the machine id, then its keys. */
export function statePath(node: { path: readonly string[]; machine: { id: string } }): string {
  return [node.machine.id, ...node.path].join('.');
}

/** The state nodes of a machine, root first, in document order (pre-order, config key order). */
function walk(root: NodeLike): NodeLike[] {
  const out: NodeLike[] = [];
  const visit = (n: NodeLike): void => {
    out.push(n);
    for (const child of Object.values(n.states)) visit(child);
  };
  visit(root);
  return out;
}

function formatParams(params: unknown): string {
  if (params === undefined) return '';
  if (params === null || typeof params !== 'object') return String(params);
  if (Array.isArray(params)) return params.map(formatParams).join(', ');
  return Object.entries(params as Record<string, unknown>)
    .map(([k, v]) => `${k}=${v !== null && typeof v === 'object' ? formatParams(v) : String(v)}`)
    .join(', ');
}

/** A guard's readable name (see the module comment). */
export function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const g = guard as { name: string; check?: unknown; guards?: unknown[]; stateValue?: unknown };
    if (g.check !== undefined) {
      // XState's built-in combinators carry `check` (and their operands in `guards`)
      if (Array.isArray(g.guards)) return `${g.name}(${g.guards.map(guardName).join(', ')})`;
      if (g.name === 'stateIn') return `in(${formatParams(g.stateValue)})`;
    }
    return PROPERTY_NAMES.has(g.name) ? INLINE : g.name;
  }
  if (guard !== null && typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    const { type, params } = guard as { type: string; params?: unknown };
    return params === undefined || typeof params === 'function' ? type : `${type}(${formatParams(params)})`;
  }
  return INLINE;
}

const isAfterEvent = (v: unknown): boolean => typeof v === 'string' && v.startsWith('xstate.after.');

/** An action's readable name, or `null` for the raise/cancel XState adds to implement `after`. */
export function actionName(action: unknown): string | null {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const a = action as { name: string; type?: unknown; id?: unknown; sendId?: unknown };
    if (typeof a.type === 'string' && a.type.startsWith('xstate.')) {
      if (a.type === 'xstate.raise' && isAfterEvent(a.id)) return null;
      if (a.type === 'xstate.cancel' && isAfterEvent(a.sendId)) return null;
      return a.type.slice('xstate.'.length);
    }
    return PROPERTY_NAMES.has(a.name) ? INLINE : a.name;
  }
  if (
    action !== null &&
    typeof action === 'object' &&
    typeof (action as { type?: unknown }).type === 'string'
  ) {
    return (action as { type: string }).type;
  }
  return INLINE;
}

function actionNames(actions: readonly unknown[]): string[] {
  return actions.map(actionName).filter((a): a is string => a !== null);
}

function eventName(t: TransitionLike, actors: ReadonlyMap<string, string>): string {
  if (t.delay !== undefined) {
    const d = t.delay;
    return `after ${typeof d === 'number' ? `${d}ms` : typeof d === 'string' ? d : INLINE}`;
  }
  const e = t.eventType;
  if (e === '') return 'always';
  const done = /^xstate\.(done\.actor|error\.actor|snapshot)\.(.+)$/.exec(e);
  if (done !== null) {
    const kind = done[1] === 'done.actor' ? 'done' : done[1] === 'error.actor' ? 'error' : 'snapshot';
    return `${kind}(${actors.get(done[2]!) ?? done[2]})`;
  }
  if (e.startsWith('xstate.done.state.')) return 'done';
  return e;
}

function transitionsOf(node: NodeLike): ChartTransition[] {
  const from = statePath(node);
  const all = transitionsInOrder(node) as TransitionLike[];
  // invoked actors by id (XState generates ids like `0.machine.state`), named by their source
  const actors = new Map(node.invoke.map((i) => [i.id, typeof i.src === 'string' ? i.src : i.id]));
  const out: ChartTransition[] = [];
  for (const [position, t] of all.entries()) {
    const base: Omit<ChartTransition, 'from' | 'to'> = {
      id: transitionId(node, position),
      event: eventName(t, actors),
    };
    if (t.guard !== undefined) base.guard = guardName(t.guard);
    const actions = actionNames(t.actions);
    if (actions.length > 0) base.actions = actions;
    const targets = t.target ?? [];
    if (targets.length === 0) {
      out.push({ from, to: from, ...base, internal: true });
      continue;
    }
    for (const target of targets) {
      const to = statePath(target);
      if (to === from && !t.reenter) out.push({ from, to, ...base, internal: true });
      else if (to === from) out.push({ from, to, ...base, reenter: true });
      else out.push({ from, to, ...base });
    }
  }
  return out;
}

function stateOf(node: NodeLike): ChartState {
  const s: ChartState = {
    id: statePath(node),
    parent: node.parent === undefined ? null : statePath(node.parent),
    type: node.type,
  };
  if (node.type === 'compound' && node.config.initial !== undefined) {
    const target = node.initial?.target[0];
    if (target !== undefined) s.initial = statePath(target);
  }
  if (node.type === 'history' && node.history !== false) s.history = node.history;
  const entry = actionNames(node.entry);
  if (entry.length > 0) s.entry = entry;
  const exit = actionNames(node.exit);
  if (exit.length > 0) s.exit = exit;
  if (node.invoke.length > 0) s.invoke = node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id));
  return s;
}

const portsOf = (schemas: PortSchemas): ChartPort[] =>
  Object.entries(schemas).map(([name, schema]) => ({ name, schema: schema.name }));

/** The statechart of a machine, with the engine's name and ports. */
export function statechartOf(
  machine: AnyStateMachine,
  engine: { name: string; inputs: PortSchemas; outputs: PortSchemas },
): Statechart {
  const nodes = walk(machine.root as unknown as NodeLike);
  return {
    engine: engine.name,
    id: machine.id,
    inputs: portsOf(engine.inputs),
    outputs: portsOf(engine.outputs),
    states: nodes.map(stateOf),
    transitions: nodes.flatMap(transitionsOf),
  };
}

/** A host for describing a machine: in-memory storage, no keys (factories only read, never run). */
export function describeHost(engine: string): EngineHost {
  return { node: 'describe', engine, storage: new MemoryStorage(), signer: undefined, verify: undefined };
}

/** The statechart of an engine definition (a machine factory is resolved with `describeHost`). */
export function statechartOfEngine(def: EngineDefinition<PortSchemas, PortSchemas, unknown>): Statechart {
  return statechartOf(machineOf(def, describeHost(def.name)), def);
}

/** The statecharts of the machines an engine's core runs (`parts`), as `<engine>.<part>`. */
export function statechartsOfParts(def: EngineDefinition<PortSchemas, PortSchemas, unknown>): Statechart[] {
  return Object.entries(def.parts).map(([part, machine]) => ({
    ...statechartOf(machine, { name: `${def.name}.${part}`, inputs: {}, outputs: {} }),
    partOf: def.name,
  }));
}
