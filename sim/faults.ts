/**
 * Fault plans: everything that goes wrong in a simulated run, decided up front from a seed (or
 * generated and shrunk by fast-check), so a run is a pure function of (seed, plan).
 */
export interface LinkFaults {
  /** Probability that a message is lost. */
  readonly drop: number;
  /** Probability that a message is delivered twice. */
  readonly duplicate: number;
  /** Delivery delay in virtual ms, uniform in [minDelay, maxDelay]; a wide range reorders. */
  readonly minDelay: number;
  readonly maxDelay: number;
}

export interface PartitionFault {
  /** Virtual time the partition starts and heals. */
  readonly from: number;
  readonly until: number;
  /** Nodes in different groups cannot reach each other; nodes in no group are isolated. */
  readonly groups: readonly (readonly string[])[];
}

export interface CrashFault {
  readonly node: string;
  readonly at: number;
  /** When the node restarts with only its storage; undefined = stays down. */
  readonly restartAt: number | undefined;
}

export interface ClockSkew {
  /** Added to the node's local time (ms); never negative. */
  readonly offset: number;
  /** Local clock speed; 1.0 = real rate, 1.1 = timeouts fire 10% early in global time. */
  readonly rate: number;
}

/**
 * What a kill lands next to: a signature reaching the WAL (any, or one kind: a proposal, a
 * prevote, a precommit), a committed block, an app root.
 */
export type PersistedWrite = 'signature' | 'proposal' | 'prevote' | 'precommit' | 'block' | 'root';

/** Where around that write: before it lands, after it lands (before the step's sends), after the sends. */
export type KillPoint = 'before-write' | 'after-write' | 'after-send';

/**
 * A kill at a write: at the node's `nth` write of that kind (counted from 1 over the whole run)
 * it dies before the write lands, after it lands but before the step's messages leave, or right
 * after they leave; it restarts `down` ms later with its clock jumped by `clockJump` ms (forward,
 * or backward as far as its clock allows). These are the points where a slashing bug hides: a
 * vote in the WAL but never sent, a block committed but its root never heard.
 */
export interface WriteCrash {
  readonly node: string;
  readonly write: PersistedWrite;
  readonly nth: number;
  readonly point: KillPoint;
  readonly down: number;
  readonly clockJump: number;
}

/**
 * A storage fault (sim/killable-storage.ts) at a node, triggered by its `at`-th write of kind
 * `write` (any write when absent; counted from 1 over the whole run; an engine step's writes are
 * one batch, counted once, if it holds a write of that kind), after which the node restarts
 * `down` ms later; `seed` decides what the fault chooses.
 *
 * - `torn-write`: counts only batches (of two or more ops); that batch lands only its first k ops
 *   (k < its size, chosen by the seed), then the process dies. Our real backends never tear a
 *   batch: this models a storage without atomic batches, to show what the engines guarantee alone.
 * - `lost-writes`: the node's storage is write-back, synced before each message leaves the node
 *   (`sync: 'send'`, the default: the weakest sync under which the write-ahead rule holds, which
 *   SQLite's synchronous=FULL, syncing every commit, implies) or only every `sync` writes (a
 *   number: writes acknowledged, and acted on, may still be lost, as synchronous=NORMAL after a
 *   power loss). The trigger write lands, then the power fails: the unsynced writes are lost, a
 *   seed-chosen suffix of them or, with `order: 'any'`, any subset.
 * - `corrupt`: the process is killed right after the trigger write lands and a bit of one of its
 *   stored consensus records (under `c/`, or under `prefix`) flips, both chosen by the seed; the
 *   storage checksums its records (what SqliteStorage's CRC does) unless `checksums` is false.
 */
export interface StorageFault {
  readonly kind: 'torn-write' | 'lost-writes' | 'corrupt';
  readonly node: string;
  readonly at: number;
  readonly write?: PersistedWrite;
  readonly down: number;
  readonly seed: number;
  /** lost-writes: when writes become durable, before each send ('send') or every n writes */
  readonly sync?: 'send' | number;
  /** lost-writes: which unsynced writes are lost */
  readonly order?: 'suffix' | 'any';
  /** corrupt: the records (by key prefix, as text) one of which is damaged; default 'c/' */
  readonly prefix?: string;
  /** corrupt: whether reads check records (default true) */
  readonly checksums?: boolean;
}

export interface FaultPlan {
  readonly links: LinkFaults;
  readonly partitions: readonly PartitionFault[];
  readonly crashes: readonly CrashFault[];
  readonly skews: Readonly<Record<string, ClockSkew>>;
  /** Kills at writes (none when absent); they happen when the write does, not at a set time. */
  readonly writeCrashes?: readonly WriteCrash[];
  /** Storage faults (none when absent): torn batches, lost unsynced writes, flipped bits. */
  readonly storageFaults?: readonly StorageFault[];
}

export const NO_FAULTS: FaultPlan = {
  links: { drop: 0, duplicate: 0, minDelay: 1, maxDelay: 1 },
  partitions: [],
  crashes: [],
  skews: {},
};

/** The time after which no scheduled fault is active any more (global stabilisation time). */
export function stabilisationTime(plan: FaultPlan): number {
  let t = 0;
  for (const p of plan.partitions) t = Math.max(t, p.until);
  for (const c of plan.crashes) t = Math.max(t, c.restartAt ?? c.at);
  return t;
}

export function canReach(plan: FaultPlan, from: string, to: string, now: number): boolean {
  for (const p of plan.partitions) {
    if (now < p.from || now >= p.until) continue;
    const gFrom = p.groups.findIndex((g) => g.includes(from));
    const gTo = p.groups.findIndex((g) => g.includes(to));
    if (gFrom === -1 || gTo === -1 || gFrom !== gTo) return false;
  }
  return true;
}

/** A short human-readable description, printed with a failing seed. */
export function describePlan(plan: FaultPlan): string {
  const parts = [
    `links drop=${plan.links.drop} dup=${plan.links.duplicate} delay=${plan.links.minDelay}..${plan.links.maxDelay}ms`,
  ];
  for (const p of plan.partitions) {
    parts.push(
      `partition ${p.groups.map((g) => `{${g.join(',')}}`).join(' | ')} during ${p.from}..${p.until}ms`,
    );
  }
  for (const c of plan.crashes) {
    parts.push(
      `crash ${c.node} at ${c.at}ms${c.restartAt === undefined ? '' : `, restart at ${c.restartAt}ms`}`,
    );
  }
  for (const [n, s] of Object.entries(plan.skews))
    parts.push(`skew ${n} offset=${s.offset}ms rate=${s.rate}`);
  for (const c of plan.writeCrashes ?? []) {
    parts.push(
      `kill ${c.node} ${c.point} of its ${c.write} write #${c.nth}, restart ${c.down}ms later, clock jump ${c.clockJump}ms`,
    );
  }
  for (const f of plan.storageFaults ?? []) parts.push(describeStorageFault(f));
  return parts.join('; ');
}

/** One storage fault in words (part of describePlan). */
export function describeStorageFault(f: StorageFault): string {
  const what = f.write ?? 'any';
  const at = `${f.kind === 'torn-write' ? 'batch' : 'write'} #${f.at} (${what})`;
  const rest = `restart ${f.down}ms later, seed ${f.seed}`;
  if (f.kind === 'torn-write') return `tear ${f.node}'s ${at}, ${rest}`;
  if (f.kind === 'lost-writes') {
    const sync = f.sync === undefined || f.sync === 'send' ? 'before each send' : `every ${f.sync} writes`;
    return `power loss at ${f.node}'s ${at}, synced ${sync}, losing ${f.order === 'any' ? 'any' : 'a suffix'} of the unsynced writes, ${rest}`;
  }
  return `corrupt a ${f.prefix ?? 'c/'} record of ${f.node} after its ${at}${f.checksums === false ? ' (no checksums)' : ''}, ${rest}`;
}
