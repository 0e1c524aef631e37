/**
 * Worker: squares the jobs of its parity (id mod 2). `crashOnFirstAttemptOf` makes it throw on the
 * first attempt of that job: the supervisor restarts it and the producer's retry completes the work.
 */
import { enqueueActions, setup } from 'xstate';
import { defineEngine, type EngineEmitted, type EngineEvent, type EngineInput } from '../engine.ts';
import { Job, Result } from './messages.ts';

export interface WorkerConfig {
  parity: 0 | 1;
  crashOnFirstAttemptOf?: number;
}

const inputs = { jobs: Job };
const outputs = { results: Result };

export class PlannedCrash extends Error {}

const machine = setup({
  types: {} as {
    context: { cfg: WorkerConfig; done: number };
    events: EngineEvent<typeof inputs>;
    emitted: EngineEmitted<typeof outputs>;
    input: EngineInput<WorkerConfig>;
  },
  guards: {
    mine: ({ context, event }) => event.type === 'jobs' && event.msg.id % 2 === context.cfg.parity,
  },
  actions: {
    work: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'jobs') return;
      const job = event.msg;
      if (job.id === context.cfg.crashOnFirstAttemptOf && job.attempt === 1) {
        throw new PlannedCrash(`worker: planned crash on job ${job.id}`);
      }
      enqueue.assign({ done: context.done + 1 });
      enqueue.emit({ type: 'results', msg: { id: job.id, value: BigInt(job.value) * BigInt(job.value) } });
    }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({ cfg: input.config, done: 0 }),
  initial: 'ready',
  states: {
    ready: {
      on: { jobs: { guard: 'mine', actions: 'work' } },
    },
  },
});

export const workerEngine = defineEngine<typeof inputs, typeof outputs, WorkerConfig>({
  name: 'worker',
  inputs,
  outputs,
  machine,
});
