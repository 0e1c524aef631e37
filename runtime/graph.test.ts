import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign, emit, setup } from 'xstate';
import { propParams } from '../props/config.ts';
import { MemoryStorage } from '../storage/memory.ts';
import type { BatchOp } from '../storage/types.ts';
import { s } from '../wire/schema.ts';
import { type Deadlines, setDeadline } from './deadlines.ts';
import {
  defineEngine,
  type EngineEffect,
  type EngineEmitted,
  type EngineEvent,
  type EngineInput,
} from './engine.ts';
import { runExample } from './example/graph.ts';
import { EngineGraph } from './graph.ts';
import { type InspectEvent, Inspector } from './inspect.ts';
import { deepFreeze } from './instance.ts';
import { LiveScheduler, SimScheduler } from './scheduler.ts';

/** An engine that arms an alarm and crashes on demand: timers must survive its restarts. */
const alarmInputs = { arm: s.u32(), crash: s.unit() };
const alarmOutputs = { rang: s.u64() };
const alarmEngine = defineEngine<typeof alarmInputs, typeof alarmOutputs, undefined>({
  name: 'alarm',
  inputs: alarmInputs,
  outputs: alarmOutputs,
  machine: setup({
    types: {} as {
      context: { deadlines: Deadlines };
      events: EngineEvent<typeof alarmInputs>;
      emitted: EngineEmitted<typeof alarmOutputs>;
      input: EngineInput<undefined>;
    },
  }).createMachine({
    id: 'alarm',
    context: { deadlines: {} },
    initial: 'idle',
    states: {
      idle: {
        on: {
          arm: {
            target: 'armed',
            actions: assign(({ context, event }) => ({
              deadlines: setDeadline(context.deadlines, 'ring', event.now + event.msg),
            })),
          },
        },
      },
      armed: {
        on: {
          timeout: {
            target: 'idle',
            actions: [
              assign({ deadlines: {} }),
              emit(({ event }) => ({ type: 'rang' as const, msg: BigInt(event.now) })),
            ],
          },
          crash: {
            actions: () => {
              throw new Error('asked to crash');
            },
          },
        },
      },
    },
  }),
});

function alarmGraph(policy = { maxRestarts: 3, withinMs: 1000 }) {
  const scheduler = new SimScheduler(1);
  const inspector = new Inspector({ trace: true });
  const g = new EngineGraph({ node: 'n', scheduler, inspector, restartPolicy: policy });
  const alarm = g.add('alarm', alarmEngine);
  const rang: number[] = [];
  g.observe(alarm.out.rang).subscribe((t) => rang.push(Number(t)));
  const events: InspectEvent[] = [];
  inspector.events$.subscribe((e) => events.push(e));
  g.start();
  return { scheduler, g, alarm, rang, events };
}

describe('engine graph', () => {
  it('same seed gives the same trace hash', () => {
    const a = runExample(11, { jobs: 15, crashJob: 4 });
    const b = runExample(11, { jobs: 15, crashJob: 4 });
    expect(a.completed).toBe(true);
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.events).toBe(b.events);
  });

  it('different seeds give different traces', () => {
    const hashes = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5]) {
      const run = runExample(seed, { jobs: 10, interval: 1 });
      expect(run.completed).toBe(true);
      hashes.add(run.traceHash);
    }
    expect(hashes.size).toBe(5);
  });

  it('different seeds interleave deliveries differently (not only different values)', () => {
    const deliveryOrder = (seed: number) => {
      const scheduler = new SimScheduler(seed);
      const inspector = new Inspector();
      const g = new EngineGraph({ node: 'n', scheduler, inspector, seed: 0 });
      const alarm1 = g.add('a1', alarmEngine);
      const alarm2 = g.add('a2', alarmEngine);
      const log: string[] = [];
      inspector.events$.subscribe((e) => {
        if (e.kind === 'deliver') log.push(e.engine);
      });
      g.start();
      for (let i = 0; i < 4; i++) {
        g.send(alarm1.in.arm, 10);
        g.send(alarm2.in.arm, 10);
      }
      scheduler.run({ maxTime: 5 });
      return log.join(',');
    };
    const orders = new Set([1, 2, 3, 4, 5, 6, 7, 8].map(deliveryOrder));
    expect(orders.size).toBeGreaterThan(1);
  });

  it('restarts a crashing engine and still completes the work', () => {
    const run = runExample(3, { jobs: 12, crashJob: 5 });
    expect(run.restarts).toBe(1);
    expect(run.completed).toBe(true);
    expect(run.sum).toBe(run.expectedSum);
    expect(run.sum > 0n).toBe(true);
  });

  it('the same work without a crash completes sooner (the crash really cost a retry)', () => {
    const clean = runExample(3, { jobs: 12 });
    const crashed = runExample(3, { jobs: 12, crashJob: 5 });
    expect(clean.restarts).toBe(0);
    expect(crashed.virtualTime).toBeGreaterThan(clean.virtualTime);
    expect(crashed.sum).toBe(clean.sum);
  });

  it('fires timers in virtual time', () => {
    const { scheduler, g, alarm, rang } = alarmGraph();
    g.send(alarm.in.arm, 250);
    scheduler.run();
    expect(rang).toEqual([250]);
    expect(scheduler.now()).toBe(250);
  });

  it('a skewed node sees its own local time and its timers follow it', () => {
    const scheduler = new SimScheduler(1);
    const g = new EngineGraph({ node: 'fast', scheduler, skew: { offset: 1000, rate: 2 } });
    expect(() => new EngineGraph({ node: 'bad', scheduler, skew: { offset: -1, rate: 1 } })).toThrow(
      /offset >= 0/,
    );
    const alarm = g.add('alarm', alarmEngine);
    const rang: number[] = [];
    g.observe(alarm.out.rang).subscribe((t) => rang.push(Number(t)));
    g.start();
    g.send(alarm.in.arm, 100);
    scheduler.run();
    // armed at local 1000 for local 1100: a clock running twice as fast gets there at global 50
    expect(rang).toEqual([1100]);
    expect(scheduler.now()).toBe(50);
  });

  it('timers survive a restart from snapshot', () => {
    const { scheduler, g, alarm, rang, events } = alarmGraph();
    g.send(alarm.in.arm, 300);
    scheduler.run({ maxTime: 100 });
    g.send(alarm.in.crash, null);
    scheduler.run();
    expect(events.filter((e) => e.kind === 'crash')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'restart')).toHaveLength(1);
    expect(g.instance('alarm').stateString()).toBe('idle');
    expect(rang).toEqual([300]);
  });

  it('frozen mode: an engine that writes into its context in place crashes, and restarts from before', () => {
    // a counter that keeps its tally in a list it pushes onto: a write in place
    const countInputs = { add: s.u32() };
    const countOutputs = { total: s.u64() };
    const inPlace = (immutableContext: boolean) =>
      defineEngine<typeof countInputs, typeof countOutputs, undefined>({
        name: 'count',
        inputs: countInputs,
        outputs: countOutputs,
        immutableContext,
        machine: setup({
          types: {} as {
            context: { seen: number[] };
            events: EngineEvent<typeof countInputs>;
            emitted: EngineEmitted<typeof countOutputs>;
            input: EngineInput<undefined>;
          },
        }).createMachine({
          id: 'count',
          context: () => ({ seen: [] }),
          on: {
            add: {
              actions: [
                ({ context, event }) => void context.seen.push(event.msg),
                emit(({ context }) => ({ type: 'total' as const, msg: BigInt(context.seen.length) })),
              ],
            },
          },
        }),
      });
    const run = (freezeContexts: boolean, immutableContext: boolean) => {
      const scheduler = new SimScheduler(1);
      const inspector = new Inspector();
      const g = new EngineGraph({ node: 'n', scheduler, inspector, freezeContexts });
      const c = g.add('count', inPlace(immutableContext));
      const totals: bigint[] = [];
      g.observe(c.out.total).subscribe((t) => totals.push(t));
      let crashes = 0;
      inspector.events$.subscribe((e) => {
        if (e.kind === 'crash') crashes++;
      });
      g.start();
      g.send(c.in.add, 1);
      g.send(c.in.add, 2);
      scheduler.run();
      const context = g.instance('count').snapshot()?.context as { seen: number[] };
      return { totals, crashes, seen: [...context.seen] };
    };
    // unfrozen, the write in place goes unnoticed
    expect(run(false, true)).toEqual({ totals: [1n, 2n], crashes: 0, seen: [1, 2] });
    // frozen: the first step's context is frozen after it, so the second step's push throws;
    // that step emits nothing and the engine is back at the first step's context
    expect(run(true, true)).toEqual({ totals: [1n], crashes: 1, seen: [1] });
    // an engine that says its context is not immutable yet is left unfrozen
    expect(run(true, false)).toEqual({ totals: [1n, 2n], crashes: 0, seen: [1, 2] });
  });

  it('write effects land in one batch before the messages of the step leave; a failed write fails the step', () => {
    // a journal: each entry is written (an effect), then its running count is announced
    const journalInputs = { add: s.u32() };
    const journalOutputs = { count: s.u64() };
    const journal = defineEngine<typeof journalInputs, typeof journalOutputs, undefined>({
      name: 'journal',
      inputs: journalInputs,
      outputs: journalOutputs,
      needsStorage: true,
      machine: setup({
        types: {} as {
          context: { count: number };
          events: EngineEvent<typeof journalInputs>;
          emitted: EngineEffect<typeof journalOutputs>;
          input: EngineInput<undefined>;
        },
      }).createMachine({
        id: 'journal',
        context: () => ({ count: 0 }),
        on: {
          add: {
            actions: [
              assign(({ context }) => ({ count: context.count + 1 })),
              emit(({ context }) => ({ type: 'count' as const, msg: BigInt(context.count) })),
              emit(({ event }) => ({
                type: 'persist' as const,
                ops: [
                  { op: 'put' as const, key: Uint8Array.of(1, event.msg), value: Uint8Array.of(event.msg) },
                ],
              })),
              emit(({ event }) => ({
                type: 'persist' as const,
                ops: [
                  { op: 'put' as const, key: Uint8Array.of(2, event.msg), value: Uint8Array.of(event.msg) },
                ],
              })),
            ],
          },
        },
      }),
    });
    class CountingStorage extends MemoryStorage {
      batches: number[] = [];
      failOn: number | undefined;
      override batch(ops: readonly BatchOp[]): void {
        if (ops.some((o) => o.op === 'put' && o.value[0] === this.failOn)) throw new Error('disk unplugged');
        this.batches.push(ops.length);
        super.batch(ops);
      }
    }
    const storage = new CountingStorage();
    const scheduler = new SimScheduler(1);
    const g = new EngineGraph({ node: 'n', scheduler, storage, freezeContexts: true });
    const j = g.add('journal', journal);
    // what the storage holds when each count is seen: the write was made before the count left
    const seen: { count: bigint; stored: boolean }[] = [];
    g.observe(j.out.count).subscribe((count) =>
      seen.push({ count, stored: storage.read(Uint8Array.of(2, Number(count) * 10)) !== undefined }),
    );
    g.start();
    g.send(j.in.add, 10);
    scheduler.run();
    // both effects of the step, in one batch (the message was emitted before them, sent after)
    expect(storage.batches).toEqual([2]);
    expect(seen).toEqual([{ count: 1n, stored: true }]);
    const before = g.instance('journal').context<{ count: number }>();
    storage.failOn = 20;
    g.send(j.in.add, 20);
    scheduler.run();
    // the failed write failed the step: nothing left, the context is the one before, a restart
    expect(seen).toEqual([{ count: 1n, stored: true }]);
    expect(g.instance('journal').context<{ count: number }>()).toBe(before);
    expect(g.instance('journal').restarts).toBe(1);
    expect(storage.read(Uint8Array.of(1, 20))).toBeUndefined();
    storage.failOn = undefined;
    g.send(j.in.add, 20);
    scheduler.run();
    expect(seen).toEqual([
      { count: 1n, stored: true },
      { count: 2n, stored: true },
    ]);
    expect(storage.batches).toEqual([2, 2]);
  });

  it('no port may be called persist (the name of write effects)', () => {
    expect(() =>
      defineEngine({
        name: 'bad',
        inputs: {},
        outputs: { persist: s.u32() },
        machine: setup({}).createMachine({}),
      }),
    ).toThrow(/reserved/);
  });

  it('deepFreeze: freezes what is new, skips typed arrays and what is frozen already', () => {
    const shared = Object.freeze({ k: 1 });
    const value = {
      a: { b: [1, { c: 2 }] },
      bytes: new Uint8Array([1, 2]),
      shared,
      map: new Map([['x', { y: 1 }]]),
    };
    deepFreeze(value);
    expect(Object.isFrozen(value.a.b[1])).toBe(true);
    expect(Object.isFrozen(value.map.get('x'))).toBe(true);
    expect(() => {
      (value.a.b as unknown[]).push(3);
    }).toThrow(TypeError);
    value.bytes[0] = 9; // bytes stay writable: freezing a typed array throws
    expect(value.bytes[0]).toBe(9);
  });

  it('marks an engine failed past its restart limit and keeps the graph running', () => {
    const scheduler = new SimScheduler(1);
    const inspector = new Inspector();
    const g = new EngineGraph({
      node: 'n',
      scheduler,
      inspector,
      restartPolicy: { maxRestarts: 2, withinMs: 10_000 },
    });
    const bad = g.add('bad', alarmEngine);
    const good = g.add('good', alarmEngine);
    const events: InspectEvent[] = [];
    inspector.events$.subscribe((e) => events.push(e));
    const rang: number[] = [];
    g.observe(good.out.rang).subscribe((t) => rang.push(Number(t)));
    g.start();
    g.send(bad.in.arm, 1000);
    g.send(good.in.arm, 50);
    scheduler.run({ maxTime: 10 });
    // arm and crash travel on different lanes: send the crashes once the alarm is armed
    for (let i = 0; i < 4; i++) g.send(bad.in.crash, null);
    scheduler.run();
    expect(g.instance('bad').status).toBe('failed');
    expect(events.filter((e) => e.kind === 'restart' && e.engine === 'bad')).toHaveLength(2);
    expect(events.some((e) => e.kind === 'failed' && e.engine === 'bad')).toBe(true);
    expect(events.some((e) => e.kind === 'drop' && e.engine === 'bad')).toBe(true);
    expect(rang).toEqual([50]);
    expect(g.instance('good').status).toBe('running');
  });

  it('stamps events with a per-node Lamport clock that only grows', () => {
    const { scheduler, g, alarm, events } = alarmGraph();
    g.send(alarm.in.arm, 10);
    scheduler.run();
    const lamports = events.map((e) => e.lamport);
    expect(lamports.length).toBeGreaterThan(3);
    for (let i = 1; i < lamports.length; i++) expect(lamports[i]!).toBeGreaterThan(lamports[i - 1]!);
  });

  it('describes its engines, ports, edges and machines', () => {
    const run = runExample(1, { jobs: 2 });
    const d = run.graph.describe();
    expect(d.engines.map((e) => e.name).sort()).toEqual([
      'collector',
      'producer',
      'worker-even',
      'worker-odd',
    ]);
    expect(d.edges).toHaveLength(5);
    expect(d.edges).toContainEqual({
      from: { engine: 'collector', port: 'acks' },
      to: { engine: 'producer', port: 'acks' },
    });
    const producer = d.engines.find((e) => e.name === 'producer')!;
    expect(producer.state).toBe('done');
    expect(producer.inputs.map((p) => p.name)).toEqual(['acks']);
    expect(Object.keys((producer.machine as { states: object }).states)).toEqual([
      'producing',
      'awaiting',
      'done',
    ]);
    expect(() => JSON.stringify(d)).not.toThrow();
  });

  it('refuses to connect ports of different wire types', () => {
    const scheduler = new SimScheduler(1);
    const g = new EngineGraph({ node: 'n', scheduler });
    const a = g.add('a', alarmEngine);
    const b = g.add('b', alarmEngine);
    // rang carries u64, arm takes u32: the types differ on the wire
    expect(() => g.connect(a.out.rang as never, b.in.arm as never)).toThrow(/different wire types/);
  });

  it('runs the same graph on the live scheduler', async () => {
    const scheduler = new LiveScheduler();
    const g = new EngineGraph({ node: 'live', scheduler });
    const alarm = g.add('alarm', alarmEngine);
    g.start();
    const t0 = scheduler.now();
    const rang = await new Promise<number>((resolve) => {
      g.observe(alarm.out.rang).subscribe((t) => resolve(Number(t)));
      g.send(alarm.in.arm, 30);
    });
    expect(rang - t0).toBeGreaterThanOrEqual(29);
    g.stop();
  });

  it('property: any seed, job count and crash point completes with the right sum, reproducibly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 12 }),
        fc.option(fc.integer({ min: 0, max: 11 }), { nil: undefined }),
        (seed, jobs, crashJob) => {
          const a = runExample(seed, { jobs, ...(crashJob === undefined ? {} : { crashJob }) });
          expect(a.completed).toBe(true);
          expect(a.sum).toBe(a.expectedSum);
          const b = runExample(seed, { jobs, ...(crashJob === undefined ? {} : { crashJob }) });
          expect(b.traceHash).toBe(a.traceHash);
        },
      ),
      propParams('runtime.example-completes', 25),
    );
  });
});
