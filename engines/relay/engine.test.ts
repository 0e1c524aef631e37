import { describe, expect, it } from 'vitest';
import { EngineGraph } from '../../runtime/graph.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import type { PlannedWork, RelayConfig } from './core.ts';
import { createRelayEngine } from './engine.ts';
import type { RelayContext } from './machine.ts';
import type { EndReport, RelayWork } from './ports.ts';

/**
 * A relay engine with a toy planner: an end's state is a count of things the other end has not
 * yet got; the planner asks for one piece of work per thing, on the other end.
 */
function harness(config: Partial<RelayConfig> = {}) {
  const planned: [number, number][] = [];
  const planner = (a: EndReport, b: EndReport): PlannedWork[] => {
    planned.push([a.state[0] ?? 0, b.state[0] ?? 0]);
    const out: PlannedWork[] = [];
    for (let i = 0; i < (a.state[0] ?? 0); i++)
      out.push({ side: 1, kind: 'deliver', body: Uint8Array.of(i) });
    for (let i = 0; i < (b.state[0] ?? 0); i++)
      out.push({ side: 0, kind: 'acknowledge', body: Uint8Array.of(i) });
    return out;
  };
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({ node: 'n', scheduler, seed: 1, freezeContexts: true });
  const h = g.add('relay', createRelayEngine(planner), config);
  const work: RelayWork[] = [];
  g.observe(h.out.work).subscribe((w) => work.push(w));
  g.start();
  const run = (until = scheduler.now()) => scheduler.run({ maxTime: until });
  return {
    planned,
    work,
    state: () => g.instance('relay').stateString(),
    ctx: () => g.instance('relay').context<RelayContext>(),
    end(side: number, height: bigint, pending: number) {
      g.send(h.in.end, { side, height, time: height * 1000n, state: Uint8Array.of(pending) });
      run();
    },
    result(id: bigint, accepted: boolean) {
      g.send(h.in.result, { id, accepted, reason: accepted ? '' : 'refused' });
      run();
    },
    wait(ms: number) {
      run(scheduler.now() + ms);
    },
  };
}

describe('relay engine', () => {
  it('waits for both ends, then plans and sends one piece of work per free end', () => {
    const t = harness();
    t.end(0, 5n, 3);
    expect(t.state()).toBe('waiting');
    expect(t.planned).toEqual([]);
    t.end(1, 7n, 1);
    expect(t.state()).toBe('relaying');
    expect(t.planned).toEqual([[3, 1]]);
    expect(t.work.map((w) => [w.id, w.side, w.kind])).toEqual([
      [1n, 1, 'deliver'],
      [2n, 0, 'acknowledge'],
    ]);
  });

  it('plans again only when an end is free and something new was seen; stale reports change nothing', () => {
    const t = harness();
    t.end(0, 5n, 2);
    t.end(1, 7n, 0);
    expect(t.work).toHaveLength(1);
    t.end(0, 5n, 9); // not newer
    expect(t.planned).toHaveLength(1);
    t.end(0, 6n, 2); // newer, but side 1 is still busy and side 0 has nothing to do
    expect(t.planned).toHaveLength(2);
    expect(t.work).toHaveLength(1);
    t.result(1n, true);
    expect(t.planned).toHaveLength(3);
    expect(t.work).toHaveLength(2);
    expect(t.ctx()).toMatchObject({ submitted: 2, accepted: 1, refused: 0 });
    t.result(1n, true); // answered already
    expect(t.ctx().accepted).toBe(1);
  });

  it('gives up work without a result at its deadline and plans it again', () => {
    const t = harness({ workTimeout: 1_000 });
    t.end(0, 5n, 1);
    t.end(1, 7n, 0);
    expect(t.work).toHaveLength(1);
    t.wait(999);
    expect(t.ctx().inFlight).toHaveLength(1);
    t.wait(2);
    expect(t.ctx()).toMatchObject({ expired: 1, submitted: 2 });
    expect(t.work.map((w) => w.id)).toEqual([1n, 2n]);
    expect(t.ctx().recent[0]).toMatchObject({ id: 1n, accepted: false, reason: 'no result in time' });
  });
});
