/** Collector: acknowledges every result and completes once each expected job id has a result. */
import { enqueueActions, setup } from 'xstate';
import { defineEngine, type EngineEmitted, type EngineEvent, type EngineInput } from '../engine.ts';
import { Ack, Result } from './messages.ts';

export interface CollectorConfig {
  expected: number;
}

const inputs = { results: Result };
const outputs = { acks: Ack };

interface Ctx {
  expected: number;
  received: Record<number, string>;
  count: number;
  /** Decimal string: bigint sums survive JSON snapshots as strings. */
  sum: string;
}

const machine = setup({
  types: {} as {
    context: Ctx;
    events: EngineEvent<typeof inputs>;
    emitted: EngineEmitted<typeof outputs>;
    input: EngineInput<CollectorConfig>;
  },
  guards: {
    complete: ({ context }) => context.count >= context.expected,
  },
  actions: {
    collect: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'results') return;
      const { id, value } = event.msg;
      if (context.received[id] === undefined) {
        enqueue.assign({
          received: { ...context.received, [id]: value.toString() },
          count: context.count + 1,
          sum: (BigInt(context.sum) + value).toString(),
        });
      }
      enqueue.emit({ type: 'acks', msg: { id } });
    }),
  },
}).createMachine({
  id: 'collector',
  context: ({ input }) => ({ expected: input.config.expected, received: {}, count: 0, sum: '0' }),
  initial: 'collecting',
  states: {
    collecting: {
      always: { guard: 'complete', target: 'complete' },
      on: { results: { actions: 'collect' } },
    },
    complete: {
      on: { results: { actions: 'collect' } },
    },
  },
});

export const collectorEngine = defineEngine<typeof inputs, typeof outputs, CollectorConfig>({
  name: 'collector',
  inputs,
  outputs,
  machine,
});
