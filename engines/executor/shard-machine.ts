/**
 * An executor shard: the engine that owns one partition of the note keyspace (shards.ts) and is
 * the only one to read or change those notes while a block executes. States:
 *
 *   idle  --read/apply of height h-->  serving  --apply-->  applying  --(applied)-->  serving
 *   serving  --sealed h-->  idle
 *
 * - idle: no block open; the shard's notes are what storage holds.
 * - serving: block h is open; `read` requests are answered from the block view: storage plus the
 *   writes applied at h so far (the earlier waves).
 * - applying: one wave's writes to the shard's keys are checked (consumed notes exist, created
 *   ones neither exist nor were spent, every key is the shard's) and join the block view; then the
 *   coordinator is told. An apply is taken once per (height, round), however often it arrives.
 *
 * The coordinator seals every shard's writes in one atomic batch (ledger.ts), so a shard never
 * writes storage itself; `sealed` only lets it drop the block view. Context is plain data (the
 * applied waves), so a restart from a snapshot resumes with the same view; a request lost in a
 * crash is sent again by the coordinator.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { EngineEmitted, EngineEvent, EngineHost, EngineInput } from '../../runtime/engine.ts';
import { toHex } from '../../wire/commit.ts';
import type { WriteSet } from './phases.ts';
import type { ShardEntry, ShardReply, ShardRequest, shardInputs, shardOutputs } from './ports.ts';
import { shardOf } from './shards.ts';
import { BlockReads, NoteStore, Overlay } from './state.ts';

export interface ShardConfig {
  /** This shard's number, 0 .. count-1. */
  index: number;
  /** How many shards the keyspace is split into. */
  count: number;
}

type Apply = Extract<ShardRequest, { tag: 'apply' }>['value'];

export interface ShardContext {
  readonly index: number;
  readonly count: number;
  /** The open block, if any. */
  readonly height: bigint | null;
  /** Heights up to this one are sealed: late requests for them are ignored. */
  readonly sealed: bigint;
  /** The open block's applied waves, in order. */
  readonly applied: readonly Apply[];
  /** The apply being taken (in `applying`). */
  readonly pending: Apply | null;
}

type Events = EngineEvent<typeof shardInputs>;
type Emitted = EngineEmitted<typeof shardOutputs>;

const later = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const writeSet = (a: Apply): WriteSet => ({ consume: a.consume, create: a.create });

export function createShardMachine(host: EngineHost) {
  if (host.storage === undefined) throw new Error('an executor shard needs storage');
  const notes = new NoteStore(host.storage);
  const own = (index: number, count: number, key: Uint8Array): void => {
    if (shardOf(key, count) !== index)
      throw new Error(`shard ${index}/${count} was sent key ${toHex(key)} of another shard`);
  };
  // storage's answers for the open block: a wave reads its keys, then checks the same keys when
  // it applies; storage does not change before the block's seal, so each is read once (and its
  // shard checked once) per block
  let reads: { height: bigint | null; view: BlockReads } | undefined;
  const readsOf = (ctx: ShardContext): BlockReads => {
    if (reads?.height !== ctx.height) {
      const { index, count } = ctx;
      reads = { height: ctx.height, view: new BlockReads(notes, (key) => own(index, count, key)) };
    }
    return reads.view;
  };
  // the block view is derived from context (the applied waves), cached by identity
  let cache: { applied: readonly Apply[]; base: BlockReads; view: Overlay } | undefined;
  const viewOf = (ctx: ShardContext): Overlay => {
    const base = readsOf(ctx);
    if (cache?.applied !== ctx.applied || cache.base !== base) {
      const view = new Overlay(base);
      for (const a of ctx.applied) view.apply(writeSet(a));
      cache = { applied: ctx.applied, base, view };
    }
    return cache.view;
  };
  const request = (e: Events) => (e.type === 'request' ? e.msg : undefined);
  const heightOf = (r: ShardRequest): bigint => r.value.height;

  return setup({
    types: {} as {
      context: ShardContext;
      events: Events;
      emitted: Emitted;
      input: EngineInput<ShardConfig>;
    },
    guards: {
      /** A request for a sealed height (it cannot happen on a FIFO port, but costs nothing to refuse). */
      stale: ({ context, event }) => {
        const r = request(event);
        return r !== undefined && heightOf(r) <= context.sealed;
      },
      isRead: ({ event }) => request(event)?.tag === 'read',
      isApply: ({ event }) => request(event)?.tag === 'apply',
      isSealed: ({ event }) => request(event)?.tag === 'sealed',
      /** `sealed` for the open block (or a later one) closes it. */
      closes: ({ context, event }) => {
        const r = request(event);
        return r?.tag === 'sealed' && context.height !== null && r.value.height >= context.height;
      },
    },
    actions: {
      /** A request of a newer height opens that block with an empty view. */
      open: assign(({ context, event }) => {
        const r = request(event)!;
        return heightOf(r) === context.height ? {} : { height: heightOf(r), applied: [], pending: null };
      }),
      answer: enqueueActions(({ context, event, enqueue }) => {
        const r = request(event)!;
        if (r.tag !== 'read') return;
        const view = viewOf(context);
        const seen = readsOf(context);
        const entries: ShardEntry[] = r.value.keys.map((key) => {
          seen.see(key);
          const note = view.note(key);
          // a key that holds a note is not spent (consuming deletes it), and nothing asks
          return { key, note: note ?? null, spent: note === undefined && view.spent(key) };
        });
        enqueue.emit({
          type: 'reply',
          msg: {
            tag: 'read',
            value: { shard: context.index, height: r.value.height, round: r.value.round, entries },
          } satisfies ShardReply,
        });
      }),
      take: assign(({ event }) => {
        const r = request(event)!;
        return r.tag === 'apply' ? { pending: r.value } : {};
      }),
      apply: enqueueActions(({ context, enqueue }) => {
        const a = context.pending!;
        if (!context.applied.some((x) => x.round === a.round)) {
          const view = viewOf(context);
          const seen = readsOf(context);
          for (const key of a.consume) {
            seen.see(key);
            if (view.note(key) === undefined)
              throw new Error(`shard ${context.index}: consume of a missing note ${toHex(key)}`);
          }
          for (const c of a.create) {
            seen.see(c.key);
            if (view.note(c.key) !== undefined || view.spent(c.key))
              throw new Error(
                `shard ${context.index}: create over an existing or spent note ${toHex(c.key)}`,
              );
          }
          enqueue.assign({ applied: [...context.applied, a] });
        }
        enqueue.assign({ pending: null });
        enqueue.emit({
          type: 'reply',
          msg: {
            tag: 'applied',
            value: { shard: context.index, height: a.height, round: a.round },
          } satisfies ShardReply,
        });
      }),
      close: assign(({ context, event }) => ({
        sealed: later(request(event)!.value.height, context.sealed),
        height: null,
        applied: [],
        pending: null,
      })),
    },
  }).createMachine({
    id: 'executor-shard',
    context: ({ input }) => ({
      index: input.config.index,
      count: input.config.count,
      height: null,
      sealed: 0n,
      applied: [],
      pending: null,
    }),
    initial: 'idle',
    states: {
      idle: {
        on: {
          request: [
            { guard: 'stale' },
            { guard: 'isSealed', actions: 'close' },
            { guard: 'isRead', actions: ['open', 'answer'], target: 'serving' },
            { guard: 'isApply', actions: ['open', 'take'], target: 'applying' },
          ],
        },
      },
      serving: {
        on: {
          request: [
            { guard: 'stale' },
            { guard: 'closes', actions: 'close', target: 'idle' },
            { guard: 'isRead', actions: ['open', 'answer'] },
            { guard: 'isApply', actions: ['open', 'take'], target: 'applying' },
          ],
        },
      },
      applying: { always: { actions: 'apply', target: 'serving' } },
    },
  });
}
