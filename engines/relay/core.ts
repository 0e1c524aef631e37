/**
 * The relay engine's pure core: observations of both ends in, work out, one piece in flight per
 * end at a time (an end's IBC transactions consume and re-create the same host notes, so two at
 * once would conflict), a deadline after which work that got no answer is given up.
 *
 * The application's planner decides what to relay from the two observations (apps/ibc
 * `planChannel`); the core decides when: once both ends are observed, whenever an end it may
 * submit to has nothing in flight and something was observed since it last planned.
 */
import type { EndReport, RelayWork, WorkResult } from './ports.ts';

/** What the application asks to be done on one end. */
export interface PlannedWork {
  readonly side: number;
  readonly kind: string;
  readonly body: Uint8Array;
}

/** The application's decision: the work both ends need, given what each end showed. */
export type RelayPlanner = (a: EndReport, b: EndReport) => readonly PlannedWork[];

export interface RelayConfig {
  /** ms after which work without a result is given up (and planned again from fresh state) */
  readonly workTimeout: number;
  /** results kept for the visualiser */
  readonly recent: number;
}

export const DEFAULT_RELAY_CONFIG: RelayConfig = { workTimeout: 30_000, recent: 16 };

export interface InFlight {
  readonly id: bigint;
  readonly side: number;
  readonly kind: string;
  readonly deadline: number;
}

export interface RelayState {
  readonly config: RelayConfig;
  /** the newest observation of each end */
  readonly ends: readonly [EndReport | null, EndReport | null];
  /** whether an end was observed since the last plan */
  readonly fresh: boolean;
  readonly inFlight: readonly InFlight[];
  readonly nextId: bigint;
  readonly submitted: number;
  readonly accepted: number;
  readonly refused: number;
  readonly expired: number;
  /** the last results, newest first */
  readonly recent: readonly { id: bigint; kind: string; accepted: boolean; reason: string }[];
}

export function initialRelayState(config: Partial<RelayConfig> = {}): RelayState {
  return {
    config: { ...DEFAULT_RELAY_CONFIG, ...config },
    ends: [null, null],
    fresh: false,
    inFlight: [],
    nextId: 1n,
    submitted: 0,
    accepted: 0,
    refused: 0,
    expired: 0,
    recent: [],
  };
}

/** Keeps the newer observation of an end (a stale or repeated report changes nothing). */
export function observe(s: RelayState, report: EndReport): RelayState {
  if (report.side !== 0 && report.side !== 1) return s;
  const known = s.ends[report.side];
  if (known !== null && known.height >= report.height) return s;
  const ends: [EndReport | null, EndReport | null] = [s.ends[0], s.ends[1]];
  ends[report.side] = report;
  return { ...s, ends, fresh: true };
}

export const bothObserved = (s: RelayState): boolean => s.ends[0] !== null && s.ends[1] !== null;

const busy = (s: RelayState, side: number): boolean => s.inFlight.some((w) => w.side === side);

/** Whether to plan now: both ends observed, something new, and an end free to take work. */
export function planDue(s: RelayState): boolean {
  return bothObserved(s) && s.fresh && (!busy(s, 0) || !busy(s, 1));
}

/**
 * Plans, and keeps for each free end the first piece of work for it (the rest waits for the next
 * plan, made from state that shows what the first did).
 */
export function plan(
  s: RelayState,
  planner: RelayPlanner,
  now: number,
): { state: RelayState; work: RelayWork[] } {
  const [a, b] = s.ends;
  if (a === null || b === null) return { state: s, work: [] };
  const work: RelayWork[] = [];
  const inFlight = [...s.inFlight];
  let nextId = s.nextId;
  for (const p of planner(a, b)) {
    if (p.side !== 0 && p.side !== 1) continue;
    if (inFlight.some((w) => w.side === p.side)) continue;
    work.push({ id: nextId, side: p.side, kind: p.kind, body: p.body });
    inFlight.push({ id: nextId, side: p.side, kind: p.kind, deadline: now + s.config.workTimeout });
    nextId += 1n;
  }
  return { state: { ...s, fresh: false, inFlight, nextId, submitted: s.submitted + work.length }, work };
}

function remember(s: RelayState, entry: RelayState['recent'][number]): RelayState['recent'] {
  return [entry, ...s.recent].slice(0, s.config.recent);
}

/** A piece of work ended; unknown ids (answered already, or given up) change nothing. */
export function settle(s: RelayState, r: WorkResult): RelayState {
  const w = s.inFlight.find((x) => x.id === r.id);
  if (w === undefined) return s;
  return {
    ...s,
    inFlight: s.inFlight.filter((x) => x.id !== r.id),
    accepted: s.accepted + (r.accepted ? 1 : 0),
    refused: s.refused + (r.accepted ? 0 : 1),
    // what it did (or did not do) shows in the next observation: plan again then
    fresh: true,
    recent: remember(s, { id: r.id, kind: w.kind, accepted: r.accepted, reason: r.reason }),
  };
}

/** Work past its deadline is given up: its end is free again, and the next plan starts from state. */
export function expire(s: RelayState, now: number): RelayState {
  const gone = s.inFlight.filter((w) => w.deadline <= now);
  if (gone.length === 0) return s;
  let recent = s.recent;
  for (const w of gone)
    recent = [{ id: w.id, kind: w.kind, accepted: false, reason: 'no result in time' }, ...recent];
  return {
    ...s,
    inFlight: s.inFlight.filter((w) => w.deadline > now),
    expired: s.expired + gone.length,
    fresh: true,
    recent: recent.slice(0, s.config.recent),
  };
}

/** The earliest deadline of the work in flight, if any. */
export function nextDeadline(s: RelayState): number | undefined {
  let at: number | undefined;
  for (const w of s.inFlight) if (at === undefined || w.deadline < at) at = w.deadline;
  return at;
}
