/**
 * Every benchmark prints one line: `BENCH <name> <value> <unit> ratio=<r> vs=<what>`,
 * where the ratio compares against a peer or a physical limit measured in the same run.
 */
export interface BenchLine {
  name: string;
  value: number;
  unit: string;
  ratio: number;
  vs: string;
}

export function formatBench(line: BenchLine): string {
  const vs = line.vs.replace(/\s+/g, '_');
  return `BENCH ${line.name} ${round(line.value)} ${line.unit} ratio=${line.ratio.toFixed(3)} vs=${vs}`;
}

export function report(line: BenchLine): void {
  console.log(formatBench(line));
}

function round(v: number): string {
  if (v >= 1000) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toPrecision(3);
}

/** Runs `fn` repeatedly for at least `minMs` and returns operations per second (ops counted by fn's return). */
export function measure(fn: () => number, minMs = 1000): number {
  // warm up so the JIT has settled before timing
  const warmEnd = performance.now() + Math.min(300, minMs / 3);
  while (performance.now() < warmEnd) fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    ops += fn();
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/**
 * The best of `samples` rates of `fn`, each measured for `minMs` (after `measure`'s warm-up): for a
 * bound, whose value is what the machine can do, a sample slowed by another process or a GC pause
 * says less than the fastest one.
 */
export function bestRate(fn: () => number, samples = 5, minMs = 400): number {
  let best = 0;
  for (let i = 0; i < samples; i++) best = Math.max(best, measure(fn, minMs));
  return best;
}

/** Async variant of `measure`. */
export async function measureAsync(fn: () => Promise<number>, minMs = 1000): Promise<number> {
  const warmEnd = performance.now() + Math.min(300, minMs / 3);
  while (performance.now() < warmEnd) await fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    ops += await fn();
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/**
 * The fastest time of `a` and of `b` over `runs` alternating runs of each: other processes share
 * the cores, and a run they interrupted says nothing about the code; alternating lets both see the
 * same machine.
 */
export async function fastestAlternating(
  runs: number,
  a: () => number | Promise<number>,
  b: () => number | Promise<number>,
): Promise<[number, number]> {
  let ta = Number.POSITIVE_INFINITY;
  let tb = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    ta = Math.min(ta, await a());
    tb = Math.min(tb, await b());
  }
  return [ta, tb];
}
