/**
 * The mempool engine's XState machine. Its states are the pool's phases:
 *
 *   empty    nothing pooled (consensus gets an empty batch)
 *   pooling  envelopes pooled, room for more
 *   full     at capacity: a newcomer must beat the lowest-priority envelopes, which it evicts
 *
 * followed through eventless transitions after each message. All decisions are made by node.ts
 * (pool.ts, gossip.ts); the machine routes port events there and emits the effects. The
 * `Mempool` object in context is owned by this machine alone; each of its updates is applied
 * only after every check passed, so a restart from the last snapshot finds it consistent.
 */
import { enqueueActions, setup } from 'xstate';
import type { Deadlines } from '../../runtime/deadlines.ts';
import type { EngineEmitted, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { feeLedgerView } from '../../wire/fees.ts';
import { verify as ed25519Verify } from '../../wire/sign.ts';
import { type Effects, emptyEffects, Mempool, type MempoolConfig } from './node.ts';
import type { mempoolInputs, mempoolOutputs } from './ports.ts';

export interface MempoolContext {
  readonly mempool: Mempool;
  /** envelopes and bytes pooled (mirrors the pool, for the inspector) */
  readonly size: number;
  readonly bytes: number;
  readonly full: boolean;
  readonly deadlines: Deadlines;
}

type Events = EngineEvent<typeof mempoolInputs>;
type Emitted = EngineEmitted<typeof mempoolOutputs>;

export function createMempoolMachine(host: EngineHost) {
  const verify = host.verify ?? ed25519Verify;
  const ledger = host.storage === undefined ? undefined : feeLedgerView(host.storage);

  const emitAll = (enqueue: { emit: (e: Emitted) => void }, fx: Effects): void => {
    for (const r of fx.replies) enqueue.emit({ type: 'admitted', msg: r });
    for (const b of fx.batches) enqueue.emit({ type: 'txs', msg: b });
    for (const m of fx.sends) enqueue.emit({ type: 'net', msg: m });
    for (const p of fx.penalties) enqueue.emit({ type: 'penalty', msg: p });
  };

  const summary = (m: Mempool) => ({
    size: m.pool.size,
    bytes: m.pool.bytes,
    full: m.pool.full,
    deadlines: m.deadlines(),
  });

  return setup({
    types: {} as {
      context: MempoolContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<MempoolConfig>;
    },
    guards: {
      isEmpty: ({ context }) => context.size === 0,
      isFull: ({ context }) => context.size > 0 && context.full,
      isPooling: ({ context }) => context.size > 0 && !context.full,
    },
    actions: {
      handle: enqueueActions(({ context, event, enqueue }) => {
        const m = context.mempool;
        const fx = emptyEffects();
        switch (event.type) {
          case 'submit':
            m.submit(event.msg.id, event.msg.bytes, event.now, fx);
            break;
          case 'net':
            m.net(event.msg.peer, event.msg.bytes, event.now, fx);
            break;
          case 'committed':
            m.committed(event.msg, event.now, fx);
            break;
          case 'epochKey':
            m.epochKey(event.msg.epoch, event.msg.publicKey, event.now, fx);
            break;
          case 'timeout':
            m.timeout(event.name, event.now, fx);
            break;
        }
        enqueue.assign(summary(m));
        emitAll(enqueue, fx);
      }),
    },
  }).createMachine({
    id: 'mempool',
    context: ({ input }) => {
      const mempool = new Mempool(input.config, verify, ledger);
      return { mempool, ...summary(mempool) };
    },
    initial: 'empty',
    on: {
      submit: { actions: 'handle' },
      net: { actions: 'handle' },
      committed: { actions: 'handle' },
      epochKey: { actions: 'handle' },
      timeout: { actions: 'handle' },
    },
    states: {
      empty: {
        always: [
          { guard: 'isFull', target: 'full' },
          { guard: 'isPooling', target: 'pooling' },
        ],
      },
      pooling: {
        always: [
          { guard: 'isEmpty', target: 'empty' },
          { guard: 'isFull', target: 'full' },
        ],
      },
      full: {
        always: [
          { guard: 'isEmpty', target: 'empty' },
          { guard: 'isPooling', target: 'pooling' },
        ],
      },
    },
  });
}
