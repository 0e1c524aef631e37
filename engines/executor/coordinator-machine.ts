/**
 * The sharded executor's coordinator. It owns no notes: shards (shard-machine.ts) serve and
 * change them. For each ordered block it schedules the executable transactions into waves from
 * their declared constraints (schedule.ts) and runs each wave through the four phases of seed
 * 002, which are its states:
 *
 *   idle -> next -> lookup -> calculation -> validity -> commit.checking -> commit.applying -> next -> ... -> sealing -> idle
 *
 * - lookup: every transaction of the wave runs its lookup code; the keys it may read go, grouped
 *   by owning shard, to the shards as one `read` each; with every answer in, the inputs resolve
 *   (missing, spent, duplicated or out-of-constraint keys reject, exactly as serially).
 * - calculation: every surviving transaction computes its outputs (no state).
 * - validity: every predicate job of the wave at once: in this step (`predicates: 'inline'`), or
 *   sent as one `PredicateBatch` on the `predicates` port and judged when `verdicts` come back
 *   (`'port'`: worker threads live, see sharded.ts). The commit phase's reads go out in the same
 *   step: the output keys the write constraints allow, from their shards, which answer while the
 *   predicates are evaluated (they depend on the outputs only; a rejected transaction's are not
 *   looked at).
 * - commit.checking: with every answer in, the commit phase decides each transaction.
 * - commit.applying: the accepted write sets go to their keys' shards as one `apply` each; with
 *   every acknowledgement in, the wave is done.
 * - sealing: one atomic batch of every write of the block, the receipts (in block position,
 *   discarded and undecodable entries included) and the Merkle root over all state (ledger.ts),
 *   which does not depend on how many shards there are, asked for as a write effect; then the
 *   receipts, the root and `sealed` to every shard, which leave only once the batch is written.
 *   The next block reads what the seal wrote, so it begins only once storage shows it
 *   (`sealWritten`): in a later step, which a deadline at once (`resumeAfter`) brings about when
 *   blocks wait. Only the next height begins: one lost with a failed step is not jumped over.
 *
 * The transactions of one wave touch disjoint keys (their constraints do not overlap), and all
 * reads of a wave happen before any of its writes, so the result is serial execution's exactly.
 * Requests to a shard travel on one FIFO port per shard; an unanswered round is sent again after
 * `retryMs`, then twice that, and so on (a shard that crashed lost the request, or the coordinator
 * crashed while the answer came in), and shards answer a repeated request the same way; the same
 * holds for a predicate batch, which is given time in proportion to its jobs first
 * (`PREDICATE_MS_PER_JOB`). So a crash costs time, never correctness. Context is plain data: a restart from a
 * snapshot resumes the block where it was.
 */
import { and, enqueueActions, setup } from 'xstate';
import { clearDeadline, type Deadlines, setDeadline } from '../../runtime/deadlines.ts';
import {
  type EngineEffect,
  type EngineEvent,
  type EngineHost,
  type EngineInput,
  PERSIST,
} from '../../runtime/engine.ts';
import type { EvalResult } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { bytesEqual } from '../../wire/types.ts';
import { type Prepared, prepareOrdered } from './block.ts';
import { type BlockFees, chargeBlock, NO_FEES } from './fees.ts';
import { Ledger, resumeAfter } from './ledger.ts';
import type { Note } from './notes.ts';
import {
  acceptedReceipt,
  calculationPhase,
  commitPhase,
  commitReadsOf,
  evaluateJob,
  lookupInputs,
  lookupKeys,
  type Multievaluate,
  type PredicateJob,
  type Receipt,
  readsOf,
  type StateView,
  validityJobs,
  validityVerdict,
  type WriteSet,
} from './phases.ts';
import type {
  CoordinatorInputs,
  CoordinatorOutputs,
  PredicateBatch,
  ShardEntry,
  ShardRequest,
} from './ports.ts';
import { fromOutcome, toCall } from './predicates.ts';
import { waves } from './schedule.ts';
import { byShard, shardOf } from './shards.ts';

export interface CoordinatorConfig {
  /** Gas each transaction may use across its phases. */
  gasLimit: number;
  /** Where predicates run: in the coordinator's step, or behind the `predicates`/`verdicts` ports. */
  predicates: 'inline' | 'port';
  /** After this many ms without every answer of a round, the unanswered requests are sent again. */
  retryMs: number;
}

/** A shard's answer to a read: the entries of the keys it was asked for, in order. */
interface Fetched {
  readonly shard: number;
  readonly entries: readonly ShardEntry[];
}

/** A transaction of the current wave between phases. */
interface Work {
  readonly index: number;
  readonly keys: readonly Uint8Array[];
  readonly inputs: readonly Note[];
  readonly outputs: readonly Note[];
  readonly gas: number;
  readonly jobs: readonly PredicateJob[];
}

export interface CoordinatorContext {
  readonly gasLimit: number;
  readonly predicates: 'inline' | 'port';
  readonly retryMs: number;
  readonly queue: readonly OrderedBlock[];
  /** The block being executed: its entries, receipts and write sets by position. */
  readonly prepared: readonly Prepared[];
  /** The block's fees, charged when it begins. */
  readonly fees: BlockFees;
  readonly receipts: readonly (Receipt | null)[];
  readonly writes: readonly (WriteSet | null)[];
  /** Waves of block positions; `wave` is the current one. */
  readonly waves: readonly (readonly number[])[];
  readonly wave: number;
  readonly work: readonly Work[];
  /** The current round of requests (shards) or predicates; answers to other rounds are ignored. */
  readonly round: number;
  /** Per shard: its request of the current round, until it answers. */
  readonly outstanding: readonly (ShardRequest | null)[];
  /** What shards answered in this wave, reply by reply. */
  readonly fetched: readonly Fetched[];
  /** The wave's predicate results, once in. */
  readonly results: readonly EvalResult[] | null;
  /** Re-sends of the current round so far (the wait doubles with each, up to 2^10 retryMs). */
  readonly attempt: number;
  /** Re-sends of the wave's predicate batch so far (its wait doubles likewise). */
  readonly predicateAttempt: number;
  /** The last height this coordinator sealed (in this step, or written by an earlier one). */
  readonly sealed: bigint;
  readonly deadlines: Deadlines;
}

type Events = EngineEvent<CoordinatorInputs>;
type Emitted = EngineEffect<CoordinatorOutputs>;
type Ctx = CoordinatorContext;

const RETRY = 'retry';
const PREDICATE_RETRY = 'retry-predicates';
/** When to re-send a round that was sent `attempt` times before. */
const retryAt = (ctx: { retryMs: number }, now: number, attempt: number): number =>
  now + ctx.retryMs * 2 ** Math.min(attempt, 10);
/**
 * How long a predicate batch of `jobs` jobs may take (ms per job) before it is presumed lost, on
 * top of `retryMs`. Evaluating is CPU work that grows with the batch (a block of 1 500 transfers
 * is 4 500 jobs, about 0.3 s on two idle cores and seconds on busy ones): a fixed wait re-sent
 * large batches exactly when the machine was busiest, and the runner evaluated them twice.
 */
export const PREDICATE_MS_PER_JOB = 1;
const predicateRetryAt = (ctx: { retryMs: number }, now: number, attempt: number, jobs: number): number =>
  retryAt(ctx, now, attempt) + jobs * PREDICATE_MS_PER_JOB * 2 ** Math.min(attempt, 10);
const jobCount = (work: readonly { jobs: readonly unknown[] }[]): number =>
  work.reduce((n, w) => n + w.jobs.length, 0);
/** Rounds are u32 on the wire. */
const nextRound = (round: number): number => (round + 1) % 2 ** 32;

export function createCoordinatorMachine(mev: Multievaluate, shards: number) {
  return (host: EngineHost) => {
    if (host.storage === undefined) throw new Error('the executor coordinator needs storage');
    const ledger = new Ledger(host.storage);
    const block = (ctx: Ctx) => ctx.queue[0]!;
    const txOf = (ctx: Ctx, index: number) => ctx.prepared[index]!.tx!;
    const nowOf = (e: Events) => e.now;
    const reject = (ctx: Ctx, at: (readonly [number, Receipt])[]): (Receipt | null)[] => {
      const receipts = [...ctx.receipts];
      for (const [index, r] of at) receipts[index] = r;
      return receipts;
    };
    // the wave's answers by key (hex), with the shard that gave each: derived from context
    // (`fetched`, the replies in order; a later answer for a key replaces an earlier one), cached
    // by identity
    type Answer = { readonly shard: number; readonly entry: ShardEntry };
    let index: { fetched: readonly Fetched[]; byKey: Map<string, Answer> } | undefined;
    const fetchedByKey = (ctx: Ctx): Map<string, Answer> => {
      if (index?.fetched !== ctx.fetched) {
        const byKey = new Map<string, Answer>();
        for (const { shard, entries } of ctx.fetched)
          for (const entry of entries) byKey.set(toHex(entry.key), { shard, entry });
        index = { fetched: ctx.fetched, byKey };
      }
      return index.byKey;
    };
    /** What the wave may see: what its shards answered, and the (immutable) code registry. */
    const viewOf = (ctx: Ctx): StateView => {
      const byKey = fetchedByKey(ctx);
      const entry = (key: Uint8Array): ShardEntry => {
        const e = byKey.get(toHex(key));
        if (e === undefined) throw new Error(`executor: ${toHex(key)} was read but not fetched`);
        return e.entry;
      };
      return {
        note: (key) => entry(key).note ?? undefined,
        spent: (key) => entry(key).spent,
        code: (commitment) => ledger.notes.code(commitment),
      };
    };
    /** The shard of a key this wave wrote: the one that answered for it, as its reads came first. */
    const shardOfWritten = (ctx: Ctx, key: Uint8Array): number =>
      fetchedByKey(ctx).get(toHex(key))?.shard ?? shardOf(key, shards);

    type Enqueue = {
      assign: (p: Partial<Ctx>) => void;
      emit: (e: Emitted) => void;
    };
    /** Sends one round: a request to each shard that has one; arms the retry deadline. */
    const sendRound = (
      ctx: Ctx,
      enqueue: Enqueue,
      now: number,
      make: (shard: number, round: number) => ShardRequest | null,
    ): void => {
      const round = nextRound(ctx.round);
      const outstanding = Array.from({ length: shards }, (_, i) => make(i, round));
      for (const [i, r] of outstanding.entries()) if (r !== null) enqueue.emit({ type: `shard${i}`, msg: r });
      const waiting = outstanding.some((r) => r !== null);
      enqueue.assign({
        round,
        outstanding,
        attempt: 0,
        deadlines: waiting
          ? setDeadline(ctx.deadlines, RETRY, retryAt(ctx, now, 0))
          : clearDeadline(ctx.deadlines, RETRY),
      });
    };
    const readRound = (ctx: Ctx, enqueue: Enqueue, now: number, keys: Iterable<Uint8Array>): void => {
      const groups = byShard(keys, shards, toHex);
      sendRound(ctx, enqueue, now, (i, round) =>
        groups[i]!.length === 0
          ? null
          : { tag: 'read', value: { height: block(ctx).height, round, keys: groups[i]! } },
      );
    };

    /** The wave's predicate jobs in wire form, for the `predicates` port. */
    const predicateBatch = (ctx: Ctx, round: number): PredicateBatch => ({
      height: block(ctx).height,
      round,
      calls: ctx.work.flatMap((w) => {
        const tx = txOf(ctx, w.index);
        const view = { inputs: [...w.inputs], outputs: [...w.outputs], extradata: tx.extradata };
        return w.jobs.map((j) => toCall(j, view));
      }),
    });

    return setup({
      types: {} as {
        context: Ctx;
        events: Events;
        emitted: Emitted;
        input: EngineInput<CoordinatorConfig>;
      },
      guards: {
        // a seal is written after its step: until storage shows it, what it wrote is not there to read
        sealWritten: ({ context }) => ledger.executedHeight() >= context.sealed,
        // only the next height runs: a block past it (one before it was lost with a crashed step)
        // waits in the queue until the missing one is sent again, never runs on the wrong state
        hasBlock: ({ context }) =>
          context.queue.length > 0 && block(context).height === ledger.executedHeight() + 1n,
        alreadyExecuted: ({ context }) =>
          context.queue.length > 0 && block(context).height <= ledger.executedHeight(),
        moreWaves: ({ context }) => context.wave + 1 < context.waves.length,
        answered: ({ context }) => context.outstanding.every((r) => r === null),
        judged: ({ context }) => context.results !== null,
      },
      actions: {
        // waiting blocks are kept in height order, so a re-sent missing block goes before what
        // waits on it; the head stays put when it may be the block in execution (the next height)
        enqueue: enqueueActions(({ context, event, enqueue }) => {
          if (event.type !== 'ordered') return;
          const head = context.queue[0];
          const inPlace = head !== undefined && head.height <= ledger.executedHeight() + 1n ? [head] : [];
          const waiting = [...context.queue.slice(inPlace.length), event.msg].sort((a, b) =>
            a.height < b.height ? -1 : a.height > b.height ? 1 : 0,
          );
          enqueue.assign({ queue: [...inPlace, ...waiting] });
        }),
        /** The deadline after a seal passed: the seal is written, the blocks waiting may begin. */
        resume: enqueueActions(({ context, event, enqueue }) => {
          if (event.type === 'timeout')
            enqueue.assign({ deadlines: clearDeadline(context.deadlines, event.name) });
        }),
        replayRoot: enqueueActions(({ context, enqueue }) => {
          // a height is re-announced after a restart: answer with the root we stored
          const height = block(context).height;
          const stored = ledger.receipts(height);
          if (stored !== undefined) {
            enqueue.emit({ type: 'appRoot', msg: { height, root: stored.root, validatorUpdates: [] } });
          }
          enqueue.assign({ queue: context.queue.slice(1) });
        }),
        /** Decodes the block and schedules its executable transactions into waves. */
        begin: enqueueActions(({ context, enqueue }) => {
          const fees = chargeBlock(host.storage!, block(context));
          const prepared = prepareOrdered(block(context), fees);
          const executable = prepared.flatMap((p, i) => (p.tx === null ? [] : [i]));
          const plan = waves(executable.map((i) => prepared[i]!.tx!)).map((w) =>
            w.map((k) => executable[k]!),
          );
          enqueue.assign({
            prepared,
            fees,
            deadlines: clearDeadline(context.deadlines, resumeAfter(context.sealed)),
            receipts: prepared.map((p) => p.receipt),
            writes: prepared.map(() => null),
            waves: plan,
            wave: -1,
            work: [],
            fetched: [],
            results: null,
          });
        }),
        /** lookup, part one: the wave's lookup codes run; the keys they may read go to their shards. */
        lookup: enqueueActions(({ context, event, enqueue }) => {
          const wave = context.wave + 1;
          const work: Work[] = [];
          const rejected: [number, Receipt][] = [];
          for (const index of context.waves[wave]!) {
            const keys = lookupKeys(txOf(context, index), mev, context.gasLimit);
            if (!keys.ok) rejected.push([index, keys.receipt]);
            else work.push({ index, keys: keys.value, inputs: [], outputs: [], gas: keys.gasUsed, jobs: [] });
          }
          const next = {
            ...context,
            wave,
            work,
            fetched: [],
            results: null,
            receipts: reject(context, rejected),
          };
          enqueue.assign(next);
          readRound(
            next,
            enqueue,
            nowOf(event),
            work.flatMap((w) => readsOf(txOf(context, w.index), w.keys)),
          );
        }),
        /** A shard's answer to the current round. */
        collect: enqueueActions(({ context, event, enqueue }) => {
          if (event.type !== 'replies') return;
          const r = event.msg.value;
          if (r.shard >= shards || r.round !== context.round || context.outstanding[r.shard] === null) return;
          if (context.queue.length === 0 || r.height !== block(context).height) return;
          const asked = context.outstanding[r.shard]!;
          const outstanding = context.outstanding.map((x, i) => (i === r.shard ? null : x));
          let fetched = context.fetched;
          if (event.msg.tag === 'read') {
            // the keys asked of that shard (all of them its own), in order: nothing else
            const { entries } = event.msg.value;
            const keys = asked.tag === 'read' ? asked.value.keys : [];
            if (entries.length !== keys.length || entries.some((e, i) => !bytesEqual(e.key, keys[i]!)))
              throw new Error(`shard ${r.shard} answered for keys it was not asked for`);
            fetched = [...fetched, { shard: r.shard, entries }];
          }
          const done = outstanding.every((x) => x === null);
          enqueue.assign({
            outstanding,
            fetched,
            deadlines: done ? clearDeadline(context.deadlines, RETRY) : context.deadlines,
          });
        }),
        /** The retry deadline passed: send the unanswered requests of the round again. */
        resend: enqueueActions(({ context, event, enqueue }) => {
          if (event.type !== 'timeout' || event.name !== RETRY) return;
          const waiting = context.outstanding.some((r) => r !== null);
          for (const [i, r] of context.outstanding.entries())
            if (r !== null) enqueue.emit({ type: `shard${i}`, msg: r });
          const attempt = context.attempt + 1;
          enqueue.assign({
            attempt,
            deadlines: waiting
              ? setDeadline(context.deadlines, RETRY, retryAt(context, event.now, attempt))
              : clearDeadline(context.deadlines, RETRY),
          });
        }),
        /** lookup, part two: the inputs, from the shards' answers. */
        resolveInputs: enqueueActions(({ context, enqueue }) => {
          const view = viewOf(context);
          const work: Work[] = [];
          const rejected: [number, Receipt][] = [];
          for (const w of context.work) {
            const r = lookupInputs(txOf(context, w.index), w.keys, view, w.gas);
            if (!r.ok) rejected.push([w.index, r.receipt]);
            else work.push({ ...w, inputs: r.value, gas: r.gasUsed });
          }
          enqueue.assign({ work, receipts: reject(context, rejected) });
        }),
        calculate: enqueueActions(({ context, enqueue }) => {
          const work: Work[] = [];
          const rejected: [number, Receipt][] = [];
          for (const w of context.work) {
            const r = calculationPhase(txOf(context, w.index), w.inputs, mev, context.gasLimit, w.gas);
            if (!r.ok) rejected.push([w.index, r.receipt]);
            else work.push({ ...w, outputs: r.value, gas: r.gasUsed });
          }
          enqueue.assign({ work, receipts: reject(context, rejected) });
        }),
        /** validity, part one: every predicate job of the wave, evaluated here or sent out. */
        validate: enqueueActions(({ context, event, enqueue }) => {
          const view = viewOf(context);
          const work: Work[] = [];
          const rejected: [number, Receipt][] = [];
          for (const w of context.work) {
            const tx = txOf(context, w.index);
            const r = validityJobs(
              tx,
              w.inputs,
              w.outputs,
              view,
              context.gasLimit,
              w.gas,
              block(context).height,
            );
            if (!r.ok) rejected.push([w.index, r.receipt]);
            else work.push({ ...w, jobs: r.value });
          }
          const jobs = work.flatMap((w) => w.jobs);
          const inline = context.predicates === 'inline' || jobs.length === 0;
          const now = nowOf(event);
          const next = {
            ...context,
            work,
            receipts: reject(context, rejected),
            results: inline ? jobs.map((j) => evaluateJob(j, mev)) : null,
            predicateAttempt: 0,
            deadlines: inline
              ? clearDeadline(context.deadlines, PREDICATE_RETRY)
              : setDeadline(
                  context.deadlines,
                  PREDICATE_RETRY,
                  predicateRetryAt(context, now, 0, jobs.length),
                ),
          };
          enqueue.assign(next);
          // the batch shares the round of the commit reads sent with it (readRound takes the next)
          if (!inline)
            enqueue.emit({ type: 'predicates', msg: predicateBatch(next, nextRound(context.round)) });
          // commit, part one, while the predicates run: the output keys go to their shards (they
          // depend on the outputs only; a transaction the verdicts reject just reads for nothing)
          readRound(
            next,
            enqueue,
            now,
            work.flatMap((w) => commitReadsOf(txOf(context, w.index), w.outputs)),
          );
        }),
        /** No verdicts in time (the coordinator crashed while they came in): ask again. */
        resendPredicates: enqueueActions(({ context, event, enqueue }) => {
          if (event.type !== 'timeout' || event.name !== PREDICATE_RETRY || context.results !== null) return;
          const attempt = context.predicateAttempt + 1;
          enqueue.emit({ type: 'predicates', msg: predicateBatch(context, context.round) });
          enqueue.assign({
            predicateAttempt: attempt,
            deadlines: setDeadline(
              context.deadlines,
              PREDICATE_RETRY,
              predicateRetryAt(context, event.now, attempt, jobCount(context.work)),
            ),
          });
        }),
        verdicts: enqueueActions(({ context, event, enqueue }) => {
          if (event.type !== 'verdicts') return;
          const v = event.msg;
          if (context.queue.length === 0 || v.height !== block(context).height || v.round !== context.round)
            return;
          const expected = jobCount(context.work);
          if (v.results.length !== expected)
            throw new Error(`predicate runner returned ${v.results.length} results for ${expected} jobs`);
          enqueue.assign({
            results: v.results.map(fromOutcome),
            deadlines: clearDeadline(context.deadlines, PREDICATE_RETRY),
          });
        }),
        /** validity, part two: the verdicts (the commit reads went out with the predicates). */
        check: enqueueActions(({ context, enqueue }) => {
          const results = context.results!;
          const work: Work[] = [];
          const rejected: [number, Receipt][] = [];
          let first = 0;
          for (const w of context.work) {
            const r = validityVerdict(w.jobs, results, context.gasLimit, w.gas, first);
            first += w.jobs.length;
            if (!r.ok) rejected.push([w.index, r.receipt]);
            else work.push({ ...w, gas: r.gasUsed, jobs: [] });
          }
          enqueue.assign({ work, results: null, receipts: reject(context, rejected) });
        }),
        /** commit, part two: the decisions; the accepted writes go to their keys' shards. */
        apply: enqueueActions(({ context, event, enqueue }) => {
          const view = viewOf(context);
          const receipts = [...context.receipts];
          const writes = [...context.writes];
          const consume: Uint8Array[][] = Array.from({ length: shards }, () => []);
          const create: { key: Uint8Array; note: Note }[][] = Array.from({ length: shards }, () => []);
          for (const w of context.work) {
            const r = commitPhase(txOf(context, w.index), w.inputs, w.outputs, view, w.gas);
            if (!r.ok) {
              receipts[w.index] = r.receipt;
              continue;
            }
            receipts[w.index] = acceptedReceipt(r.gasUsed);
            writes[w.index] = r.value;
            for (const key of r.value.consume) consume[shardOfWritten(context, key)]!.push(key);
            for (const c of r.value.create) create[shardOfWritten(context, c.key)]!.push(c);
          }
          const next = { ...context, receipts, writes, work: [] };
          enqueue.assign(next);
          const height = block(context).height;
          sendRound(next, enqueue, nowOf(event), (i, round) =>
            consume[i]!.length + create[i]!.length === 0
              ? null
              : { tag: 'apply', value: { height, round, consume: consume[i]!, create: create[i]! } },
          );
        }),
        seal: enqueueActions(({ context, event, enqueue }) => {
          const height = block(context).height;
          const receipts = context.receipts.map((r) => r!);
          const writes = context.writes.filter((w): w is WriteSet => w !== null);
          const sealed = ledger.prepareSeal(height, receipts, writes, context.fees);
          enqueue.emit({ type: PERSIST, ops: sealed.ops });
          enqueue.emit({ type: 'receipts', msg: sealed.record });
          enqueue.emit({ type: 'appRoot', msg: { height, root: sealed.record.root, validatorUpdates: [] } });
          for (let i = 0; i < shards; i++)
            enqueue.emit({ type: `shard${i}`, msg: { tag: 'sealed', value: { height } } });
          const queue = context.queue.slice(1);
          const deadlines = clearDeadline(clearDeadline(context.deadlines, RETRY), PREDICATE_RETRY);
          enqueue.assign({
            queue,
            sealed: height,
            prepared: [],
            fees: NO_FEES,
            receipts: [],
            writes: [],
            waves: [],
            wave: -1,
            work: [],
            outstanding: context.outstanding.map(() => null),
            fetched: [],
            results: null,
            deadlines:
              queue.length === 0 ? deadlines : setDeadline(deadlines, resumeAfter(height), event.now),
          });
        }),
      },
    }).createMachine({
      id: 'executor-coordinator',
      context: ({ input }) => ({
        gasLimit: input.config.gasLimit,
        predicates: input.config.predicates,
        retryMs: input.config.retryMs,
        queue: [],
        prepared: [],
        fees: NO_FEES,
        receipts: [],
        writes: [],
        waves: [],
        wave: -1,
        work: [],
        round: 0,
        outstanding: Array.from({ length: shards }, () => null),
        fetched: [],
        results: null,
        attempt: 0,
        predicateAttempt: 0,
        sealed: 0n,
        deadlines: {},
      }),
      on: { ordered: { actions: 'enqueue' }, timeout: { actions: 'resume' } },
      initial: 'idle',
      states: {
        idle: {
          always: [
            {
              guard: and(['sealWritten', 'alreadyExecuted']),
              actions: 'replayRoot',
              target: 'idle',
              reenter: true,
            },
            { guard: and(['sealWritten', 'hasBlock']), actions: 'begin', target: 'next' },
          ],
        },
        next: {
          always: [{ guard: 'moreWaves', actions: 'lookup', target: 'lookup' }, { target: 'sealing' }],
        },
        lookup: {
          always: { guard: 'answered', actions: 'resolveInputs', target: 'calculation' },
          on: { replies: { actions: 'collect' }, timeout: { actions: 'resend' } },
        },
        calculation: { always: { actions: 'calculate', target: 'validity' } },
        validity: {
          entry: 'validate',
          always: { guard: 'judged', actions: 'check', target: 'commit' },
          on: {
            verdicts: { actions: 'verdicts' },
            replies: { actions: 'collect' },
            timeout: { actions: ['resend', 'resendPredicates'] },
          },
        },
        commit: {
          initial: 'checking',
          states: {
            checking: {
              always: { guard: 'answered', actions: 'apply', target: 'applying' },
              on: { replies: { actions: 'collect' }, timeout: { actions: 'resend' } },
            },
            applying: {
              always: { guard: 'answered', target: '#executor-coordinator.next' },
              on: { replies: { actions: 'collect' }, timeout: { actions: 'resend' } },
            },
          },
        },
        sealing: { always: { actions: 'seal', target: 'idle' } },
      },
    });
  };
}
