import { readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../sim/cluster.ts';
import { randomFaultPlan } from '../sim/plan.ts';
import { parseTrace } from '../viz/trace.ts';
import { recordFailingRun, TRACE_DIR } from './trace.ts';

describe('recording a failing run', () => {
  it('replays the run with a recorder and names a trace the visualiser opens', () => {
    const options = {
      seed: 42,
      validators: 4,
      byzantine: 1,
      behaviour: 'equivocate' as const,
      heights: 2,
      plan: randomFaultPlan(42, ['n0', 'n1', 'n2', 'n3'], 'light', 100),
    };
    const label = `test.record-${process.pid}`;
    const message = recordFailingRun(label, () => new Cluster(options), 'seed 42: a run');
    const path = `${TRACE_DIR}/${label}.jsonl`;
    try {
      expect(message).toContain(`viz open ${path}`);
      const trace = parseTrace(readFileSync(path, 'utf8'));
      expect(trace.header).toMatchObject({ title: 'seed 42: a run', seed: 42 });
      // the same run as without the recorder: the trace holds exactly its events
      const again = new Cluster(options);
      again.run();
      expect(trace.events.length).toBe(again.inspector.eventCount);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
