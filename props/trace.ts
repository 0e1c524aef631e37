/**
 * A failing property's run, recorded for the visualiser: the run is replayed (it is a function of
 * its options and seed) with a trace recorder attached, and the file named in the failure message.
 * While fast-check shrinks, each smaller failing run overwrites the file, so what is left is the
 * smallest counterexample's trace.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Cluster } from '../sim/cluster.ts';
import { TraceRecorder } from '../viz/trace.ts';

/** Where failing runs' traces go (gitignored with the rest of .fractal). */
export const TRACE_DIR = resolve('.fractal', 'traces');

/** Re-runs `make()` recording its trace to `.fractal/traces/<label>.jsonl`; returns a line naming it. */
export function recordFailingRun(label: string, make: () => Cluster, title: string): string {
  // npm run planted only asks whether a property fails: no trace to watch
  if (process.env.FRACTAL_PROPS_FIRST_FAILURE === '1')
    return 'trace not recorded (FRACTAL_PROPS_FIRST_FAILURE)';
  mkdirSync(TRACE_DIR, { recursive: true });
  const path = join(TRACE_DIR, `${label.replace(/[^a-zA-Z0-9._-]/g, '_')}.jsonl`);
  const cluster = make();
  const recorder = new TraceRecorder(cluster, path, { title, seed: cluster.o.seed });
  try {
    cluster.run();
  } finally {
    recorder.close();
  }
  return `trace of the failing run: ${path}\nwatch it: npm run fractal -- viz open ${path}`;
}
