/**
 * Producer: sends `jobs` jobs, one every `interval` ms, then resends every unacknowledged job each
 * `retryAfter` ms until all are acknowledged (so a job lost to a crashed worker is retried).
 */
import { assign, enqueueActions, setup } from 'xstate';
import { clearDeadline, type Deadlines, setDeadline } from '../deadlines.ts';
import { defineEngine, type EngineEmitted, type EngineEvent, type EngineInput } from '../engine.ts';
import { nextU32, type PrngState } from '../random.ts';
import { Ack, Job } from './messages.ts';

export interface ProducerConfig {
  jobs: number;
  interval: number;
  retryAfter: number;
}

const inputs = { acks: Ack };
const outputs = { jobs: Job };

interface Ctx {
  cfg: ProducerConfig;
  values: number[];
  attempts: number[];
  acked: boolean[];
  ackedCount: number;
  rng: PrngState;
  deadlines: Deadlines;
}

const machine = setup({
  types: {} as {
    context: Ctx;
    events: EngineEvent<typeof inputs>;
    emitted: EngineEmitted<typeof outputs>;
    input: EngineInput<ProducerConfig>;
  },
  guards: {
    isTick: ({ event }) => event.type === 'timeout' && event.name === 'tick',
    isRetry: ({ event }) => event.type === 'timeout' && event.name === 'retry',
    allSent: ({ context }) => context.values.length >= context.cfg.jobs,
    allAcked: ({ context }) => context.ackedCount >= context.cfg.jobs,
  },
  actions: {
    sendNext: enqueueActions(({ context, event, enqueue }) => {
      const now = event.now;
      const [r, rng] = nextU32(context.rng);
      const id = context.values.length;
      const value = r % 65_536;
      const more = id + 1 < context.cfg.jobs;
      enqueue.assign({
        rng,
        values: [...context.values, value],
        attempts: [...context.attempts, 1],
        acked: [...context.acked, false],
        deadlines: more
          ? setDeadline(context.deadlines, 'tick', now + context.cfg.interval)
          : setDeadline(clearDeadline(context.deadlines, 'tick'), 'retry', now + context.cfg.retryAfter),
      });
      enqueue.emit({ type: 'jobs', msg: { id, attempt: 1, value } });
    }),
    recordAck: assign(({ context, event }) => {
      if (event.type !== 'acks') return {};
      const id = event.msg.id;
      if (id >= context.acked.length || context.acked[id]) return {};
      const acked = [...context.acked];
      acked[id] = true;
      return { acked, ackedCount: context.ackedCount + 1 };
    }),
    resendUnacked: enqueueActions(({ context, event, enqueue }) => {
      const attempts = context.attempts.map((a, i) => (context.acked[i] ? a : a + 1));
      enqueue.assign({
        attempts,
        deadlines: setDeadline(context.deadlines, 'retry', event.now + context.cfg.retryAfter),
      });
      attempts.forEach((attempt, id) => {
        if (!context.acked[id])
          enqueue.emit({ type: 'jobs', msg: { id, attempt, value: context.values[id]! } });
      });
    }),
    clearTimers: assign({ deadlines: {} }),
  },
}).createMachine({
  id: 'producer',
  context: ({ input }) => ({
    cfg: input.config,
    values: [],
    attempts: [],
    acked: [],
    ackedCount: 0,
    rng: input.seed,
    deadlines: input.config.jobs > 0 ? setDeadline({}, 'tick', input.now + input.config.interval) : {},
  }),
  initial: 'producing',
  states: {
    producing: {
      always: { guard: 'allSent', target: 'awaiting' },
      on: {
        timeout: { guard: 'isTick', actions: 'sendNext' },
        acks: { actions: 'recordAck' },
      },
    },
    awaiting: {
      always: { guard: 'allAcked', target: 'done', actions: 'clearTimers' },
      on: {
        timeout: { guard: 'isRetry', actions: 'resendUnacked' },
        acks: { actions: 'recordAck' },
      },
    },
    done: {
      on: { acks: { actions: 'recordAck' } },
    },
  },
});

export const producerEngine = defineEngine<typeof inputs, typeof outputs, ProducerConfig>({
  name: 'producer',
  inputs,
  outputs,
  machine,
});
