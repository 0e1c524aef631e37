/**
 * Restart-safe timers.
 *
 * XState does not restore pending `after` timers from a persisted snapshot, so engines keep their
 * deadlines as data in context (`context.deadlines: { [name]: virtualTimeMs }`). The runtime arms a
 * timer for each entry after every step, and re-arms them all when an engine restarts from a
 * snapshot. When one fires the engine receives `{ type: 'timeout', name, now }`.
 * A deadline fires once per (name, time) value; engines clear it when handled.
 */
export type Deadlines = Readonly<Record<string, number>>;

export interface WithDeadlines {
  deadlines?: Deadlines;
}

export function setDeadline(deadlines: Deadlines | undefined, name: string, at: number): Deadlines {
  return { ...deadlines, [name]: at };
}

export function clearDeadline(deadlines: Deadlines | undefined, name: string): Deadlines {
  if (deadlines === undefined || !(name in deadlines)) return deadlines ?? {};
  const { [name]: _removed, ...rest } = deadlines;
  return rest;
}

export type DeadlineChange =
  | { op: 'arm'; name: string; at: number }
  | { op: 'cancel'; name: string; at: number };

/** What to arm and cancel to move from the armed set `prev` to the wanted set `next`. */
export function diffDeadlines(
  prev: ReadonlyMap<string, number>,
  next: Deadlines | undefined,
): DeadlineChange[] {
  const changes: DeadlineChange[] = [];
  const wanted = next ?? {};
  for (const [name, at] of prev) {
    if (wanted[name] !== at) changes.push({ op: 'cancel', name, at });
  }
  for (const name of Object.keys(wanted).sort()) {
    const at = wanted[name]!;
    if (prev.get(name) !== at) changes.push({ op: 'arm', name, at });
  }
  return changes;
}
