/**
 * runtime.hop: messages per second through a chain of engines in the runtime (mailboxes, lanes,
 * supervision, deadlines sync), against bare XState actors wired by bare RxJS Subjects in the
 * same run. Goal ratio >= 0.5.
 */
import { Subject } from 'rxjs';
import { createActor, emit, setup } from 'xstate';
import { defineEngine, type EngineEmitted, type EngineEvent } from '../runtime/engine.ts';
import { EngineGraph } from '../runtime/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { s } from '../wire/schema.ts';
import { measure, report } from './report.ts';

const HOPS = 4;
const MESSAGES = 5_000;

const ports = { in: s.u32() };
const outs = { out: s.u32() };
const relayMachine = setup({
  types: {} as { events: EngineEvent<typeof ports>; emitted: EngineEmitted<typeof outs> },
}).createMachine({
  id: 'relay',
  initial: 'relaying',
  states: {
    relaying: {
      on: {
        in: {
          actions: emit(({ event }) => ({ type: 'out' as const, msg: event.type === 'in' ? event.msg : 0 })),
        },
      },
    },
  },
});
const relay = defineEngine<typeof ports, typeof outs, undefined>({
  name: 'relay',
  inputs: ports,
  outputs: outs,
  machine: relayMachine,
});

function throughRuntime(): number {
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({ node: 'bench', scheduler, inspector: new Inspector() });
  const chain = Array.from({ length: HOPS }, (_, i) => g.add(`r${i}`, relay));
  for (let i = 0; i + 1 < HOPS; i++) g.connect(chain[i]!.out.out, chain[i + 1]!.in.in);
  let arrived = 0;
  g.observe(chain[HOPS - 1]!.out.out).subscribe(() => arrived++);
  g.start();
  for (let m = 0; m < MESSAGES; m++) g.send(chain[0]!.in.in, m);
  scheduler.run();
  if (arrived !== MESSAGES) throw new Error(`runtime chain lost messages: ${arrived}/${MESSAGES}`);
  g.stop();
  return MESSAGES * HOPS;
}

function throughBareXState(): number {
  const subjects = Array.from({ length: HOPS + 1 }, () => new Subject<number>());
  for (let i = 0; i < HOPS; i++) {
    const actor = createActor(relayMachine);
    const next = subjects[i + 1]!;
    actor.on('out', (e) => next.next(e.msg));
    actor.start();
    subjects[i]!.subscribe((v) => actor.send({ type: 'in', msg: v, now: 0, from: '' }));
  }
  let arrived = 0;
  subjects[HOPS]!.subscribe(() => arrived++);
  for (let m = 0; m < MESSAGES; m++) subjects[0]!.next(m);
  if (arrived !== MESSAGES) throw new Error('bare chain lost messages');
  return MESSAGES * HOPS;
}

export default async function runtimeBench(): Promise<void> {
  const ours = measure(throughRuntime, 2000);
  const bare = measure(throughBareXState, 2000);
  report({
    name: 'runtime.hop',
    value: ours,
    unit: 'msgs/s',
    ratio: ours / bare,
    vs: 'bare-xstate-actor+rxjs-subject',
  });
}
