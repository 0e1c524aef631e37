/**
 * A stable name for one transition of a machine: its source state's dotted path and its position
 * among that state's transitions (`on` handlers in the machine's order, then `always` ones), as
 * `decryptor.keying.checked#1`. The runtime records the ids of the transitions a step took; the
 * statechart (viz/statechart.ts) gives each drawn transition the same id, so the visualiser
 * flashes exactly what was taken.
 */

/** The parts of XState's StateNode and TransitionDefinition read here (internals, typed loosely). */
export interface TransitionSourceLike {
  path: readonly string[];
  machine: { id: string };
  transitions: ReadonlyMap<string, readonly unknown[]>;
  always?: readonly unknown[];
}

/** A state node's transitions in statechart order. */
export function transitionsInOrder(node: TransitionSourceLike): unknown[] {
  return [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
}

export function transitionId(source: TransitionSourceLike, position: number): string {
  return `${[source.machine.id, ...source.path].join('.')}#${position}`;
}

const ids = new WeakMap<object, string>();

/** The id of a transition definition XState reports as taken (`@xstate.microstep`). */
export function idOfTaken(t: { source: TransitionSourceLike }): string {
  const known = ids.get(t);
  if (known !== undefined) return known;
  const all = transitionsInOrder(t.source);
  all.forEach((x, i) => {
    if (x !== null && typeof x === 'object') ids.set(x, transitionId(t.source, i));
  });
  return ids.get(t) ?? transitionId(t.source, -1);
}
