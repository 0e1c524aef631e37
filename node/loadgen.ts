/**
 * The pure parts of the devnet's load generator: percentiles, the schedule of an open-loop
 * generator (the k-th transaction is due at k / rate seconds, whatever became of the earlier ones),
 * throughput, and where a transaction's submit-to-execution latency went, from the timestamps the
 * client and node 0 record.
 */

export interface Percentiles {
  p50: number;
  p99: number;
  n: number;
}

/** Nearest-rank p50 and p99 (rounded to ms); zeros for no samples. */
export function percentiles(xs: readonly number[]): Percentiles {
  if (xs.length === 0) return { p50: 0, p99: 0, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  return { p50: Math.round(quantile(s, 0.5)), p99: Math.round(quantile(s, 0.99)), n: s.length };
}

/** The nearest-rank q-quantile of ascending `sorted` (its smallest x with at least q of them <= x). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** The median of unsorted samples (0 for none). */
export function median(xs: readonly number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** Transactions an open-loop generator offers at `rate` per second for `seconds`. */
export function scheduledCount(rate: number, seconds: number): number {
  if (!(rate > 0) || !(seconds > 0)) return 0;
  return Math.floor(rate * seconds);
}

/** When (ms after the start) the k-th transaction (from 0) of an open-loop generator is due. */
export function dueAt(k: number, rate: number): number {
  return (k * 1000) / rate;
}

/**
 * How many of `total` transactions are due `elapsedMs` after the start at `rate` per second: the
 * generator sends every one that is due on each wake-up, so a late timer catches up instead of
 * lowering the offered rate.
 */
export function dueBy(elapsedMs: number, rate: number, total: number): number {
  if (elapsedMs < 0 || !(rate > 0)) return 0;
  // the small epsilon keeps k / rate * rate from rounding just below k
  return Math.min(total, Math.floor((elapsedMs * rate) / 1000 + 1e-9) + 1);
}

/** Executed transactions per second from the phase's start to its last execution. */
export function throughput(executed: number, startMs: number, lastExecutedMs: number): number {
  const seconds = (lastExecutedMs - startMs) / 1000;
  return seconds > 0 ? executed / seconds : 0;
}

/** What the client and node 0 recorded about one executed transaction (ms, one wall clock). */
export interface TxTimes {
  /** the client sent its submit */
  submitted: number;
  /** the client had the node's answer that its mempool admitted it */
  admitted: number;
  /** the height whose block carries it */
  included: number;
  /** the height whose receipts carry it (for an encrypted one: the block that completed its shares) */
  height: number;
  /** node 0 published its receipt */
  executed: number;
  /** the client received that receipt */
  seen: number;
}

/** What node 0 said about one height. */
export interface HeightTimes {
  /** the block's time: its proposer built it */
  proposed: number;
  /** node 0 committed it */
  committed: number;
}

/** Medians (ms) of each part of submit-to-execution latency; `n` transactions had every timestamp. */
export interface LatencyParts {
  /** submit to the mempool's admission answer (the RPC round trip and admission checks) */
  admission: number;
  /** admission to the proposer building the block that carries it (gossip, the block interval) */
  toBlock: number;
  /** its block built to committed at node 0 (proposal, prevotes, precommits) */
  consensus: number;
  /** its block committed to the block that completed its shares committed (0 for plain ones) */
  shares: number;
  /** the height it executes at committed to its receipt at node 0 (decryption, execution) */
  execution: number;
  /** node 0's receipt to the client receiving it (the subscription's delivery) */
  notification: number;
  /** the whole, submit to the client seeing the receipt */
  total: number;
  /** median time between consecutive commits at node 0 over the heights these transactions used */
  height: number;
  n: number;
}

/** Where the latency of `txs` went, by the medians of its parts. */
export function latencyParts(
  txs: readonly TxTimes[],
  heights: ReadonlyMap<number, HeightTimes>,
): LatencyParts {
  const parts = {
    admission: [] as number[],
    toBlock: [] as number[],
    consensus: [] as number[],
    shares: [] as number[],
    execution: [] as number[],
    notification: [] as number[],
    total: [] as number[],
  };
  for (const t of txs) {
    const block = heights.get(t.included);
    const h = heights.get(t.height);
    if (block === undefined || h === undefined) continue;
    parts.admission.push(t.admitted - t.submitted);
    parts.toBlock.push(block.proposed - t.admitted);
    parts.consensus.push(block.committed - block.proposed);
    parts.shares.push(h.committed - block.committed);
    parts.execution.push(t.executed - h.committed);
    parts.notification.push(t.seen - t.executed);
    parts.total.push(t.seen - t.submitted);
  }
  const used = [...new Set(txs.map((t) => t.height))].sort((a, b) => a - b);
  const gaps: number[] = [];
  for (const h of used) {
    const here = heights.get(h);
    const before = heights.get(h - 1);
    if (here !== undefined && before !== undefined) gaps.push(here.committed - before.committed);
  }
  return {
    admission: median(parts.admission),
    toBlock: median(parts.toBlock),
    consensus: median(parts.consensus),
    shares: median(parts.shares),
    execution: median(parts.execution),
    notification: median(parts.notification),
    total: median(parts.total),
    height: median(gaps),
    n: parts.total.length,
  };
}

/** `admission 3 ms, to block 150 ms, …` for a summary line. */
export function formatParts(p: LatencyParts): string {
  return (
    `admission ${p.admission} ms, to block ${p.toBlock} ms, consensus ${p.consensus} ms, ` +
    `shares ${p.shares} ms, execution ${p.execution} ms, notification ${p.notification} ms (medians of ${p.n}; ` +
    `whole p50 ${p.total} ms; a height every ${p.height} ms)`
  );
}
