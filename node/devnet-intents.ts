/**
 * The devnet's intent workload (issue 17): many clients fund their swap accounts and publish swap
 * intents at every node, in rounds; the solver on the first node settles what clears. The summary
 * says how many were submitted, matched, settled, the average surplus over the limit price, and
 * the routing rewards paid.
 */
import { fromHex, toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import {
  buildSwapIntent,
  buildSwapMint,
  type EpochKeyJson,
  envelopeFor,
  type NoteJson,
  swapIntentBytes,
  type tokenOf,
} from './client.ts';
import { DEMO_ASSET_IDS } from './config.ts';
import type { FillJson, SettlementJson } from './intents.ts';
import type { Layout } from './layout.ts';
import type { RpcClient } from './rpc/index.ts';

/** Clients that trade at most (each has one intent per round). */
const MAX_TRADERS = 48;
/** What each offered note holds. */
const OFFER = 100n;
/** The solver's float of each asset. */
const SOLVER_FLOAT = 10_000n;
/** The routing reward every other intent offers (rewards.ts: a k-hop route gets about ROUTE_FEE / 2^k). */
const ROUTE_FEE = 8n;
/** A round ends when all its intents settled, or this long after its last submission. */
const ROUND_WAIT_MS = 4_000;

export interface IntentWorkloadSummary {
  submitted: number;
  refused: Record<string, number>;
  /** intents in settlements the solver submitted (executed or failed) */
  matched: number;
  settled: number;
  settlements: number;
  failedSettlements: number;
  /** mean over settled intents of bought·give / (sold·want) − 1: how far above its limit each traded */
  averageSurplus: number | null;
  /** routing rewards paid to the gossip nodes on the intents' routes (their token accounts' gain) */
  rewardsPaid: number;
  seconds: number;
}

export interface IntentWorkloadContext {
  rpcs: readonly RpcClient[];
  layout: Layout;
  token: ReturnType<typeof tokenOf>;
  instance: string;
  height(): bigint;
  epochKey: EpochKeyJson | undefined;
  /** submits an envelope at node `i % nodes`; false when refused */
  submit(i: number, bytes: Uint8Array): Promise<boolean>;
  /** waits until node 0 executed every hash (or the timeout passed) */
  waitExecuted(hashes: string[], label: string, timeoutMs: number): Promise<void>;
  accepted(hash: string): boolean;
  out(line: string): void;
  progress(line: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How far above its limit price a fill traded (0 at the limit). */
export function surplusOf(f: FillJson): number | undefined {
  const sold = BigInt(f.sold);
  if (sold === 0n) return undefined;
  // bought / (sold · want / give) − 1, in parts per million to keep bigint precision
  const ppm = (BigInt(f.bought) * BigInt(f.give) * 1_000_000n) / (sold * BigInt(f.want));
  return Number(ppm) / 1_000_000 - 1;
}

export async function runIntentWorkload(
  ctx: IntentWorkloadContext,
  count: number,
): Promise<IntentWorkloadSummary> {
  const start = Date.now();
  const traders = ctx.layout.clients.slice(0, Math.min(MAX_TRADERS, count, ctx.layout.clients.length));
  const rounds = Math.ceil(count / traders.length);
  const assets = DEMO_ASSET_IDS.map(fromHex);
  const giveOf = (j: number) => j % assets.length;

  const nodeKeys = await Promise.all(
    ctx.rpcs.map(async (r) => (await r.call<{ publicKey: string }>('status')).publicKey),
  );
  // 1. every trader's swap account gets a note of OFFER per round, of the asset it gives; the
  // solver (v0) a float of each asset, for rounding dust and route fees a fill's surplus cannot pay
  const mints: string[] = [];
  for (const [k, asset] of assets.entries()) {
    const tx = buildSwapMint(ctx.token, ctx.layout.authority, fromHex(nodeKeys[0]!), asset, [SOLVER_FLOAT]);
    const env = envelopeFor(tx, {
      instance: ctx.instance,
      payerKey: ctx.layout.authority,
      fee: 10n,
      height: ctx.height(),
    });
    if (await ctx.submit(k, env.bytes)) mints.push(env.hash);
  }
  for (const [j, seed] of traders.entries()) {
    const owner = keyPairFromSeed(seed).publicKey;
    const tx = buildSwapMint(
      ctx.token,
      ctx.layout.authority,
      owner,
      assets[giveOf(j)]!,
      Array(rounds).fill(OFFER),
    );
    const env = envelopeFor(tx, {
      instance: ctx.instance,
      payerKey: ctx.layout.authority,
      fee: 10n,
      height: ctx.height(),
    });
    if (await ctx.submit(j, env.bytes)) mints.push(env.hash);
  }
  await ctx.waitExecuted(mints, 'fund    ', 60_000);
  const funded = mints.filter((h) => ctx.accepted(h)).length;
  if (funded < mints.length)
    throw new Error(
      `devnet: only ${funded} of ${mints.length} swap-account mints were executed and accepted`,
    );
  // each node checks an intent's notes against its own state: wait until every node executed them
  const lastOwner = toHex(keyPairFromSeed(traders.at(-1)!).publicKey);
  for (const rpc of ctx.rpcs) {
    for (let t = 0; ; t++) {
      const notes = await rpc
        .call<NoteJson[]>('notes', { owner: lastOwner, account: 'swap' })
        .catch(() => []);
      if (notes.length >= rounds) break;
      if (t > 200) throw new Error('devnet: a node did not execute the swap-account mints within 20 s');
      await sleep(100);
    }
  }
  const notesOf = await Promise.all(
    traders.map(async (seed) => {
      const owner = toHex(keyPairFromSeed(seed).publicKey);
      const list = await ctx.rpcs[0]!.call<NoteJson[]>('notes', { owner, account: 'swap' });
      return list.sort((a, b) => a.key.localeCompare(b.key));
    }),
  );
  ctx.out(
    `devnet: funded ${traders.length} swap accounts with ${rounds} notes of ${OFFER} each, and the solver's with ${SOLVER_FLOAT} of each asset`,
  );

  // what the nodes' token accounts hold of the assets: routing rewards are paid there
  const rewardsHeld = async () => {
    let total = 0n;
    for (const owner of nodeKeys)
      for (const asset of DEMO_ASSET_IDS) {
        const b = await ctx.rpcs[0]!.call<{ amount: string }>('balance', { owner, asset });
        total += BigInt(b.amount);
      }
    return total;
  };
  const rewardsBefore = await rewardsHeld();

  // 2. rounds of intents, each trader one per round, at node j % nodes; settlements heard from the solver
  const settlements: SettlementJson[] = [];
  const settledIntents = new Set<string>();
  const sub = await ctx.rpcs[0]!.subscribe('settlements', (payload) => {
    const s = payload as SettlementJson;
    settlements.push(s);
    if (s.accepted) for (const f of s.fills) settledIntents.add(f.intent);
  });
  const refused: Record<string, number> = {};
  let submitted = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      const round: string[] = [];
      await Promise.all(
        traders.map(async (seed, j) => {
          if (r * traders.length + j >= count) return;
          const note = notesOf[j]![r];
          if (note === undefined) return;
          const intent = buildSwapIntent(ctx.token, {
            ownerKey: seed,
            give: { asset: assets[giveOf(j)]!, amount: OFFER },
            // limits from 80 to 110 for 100: most rings clear, some ask too much
            want: {
              asset: assets[(giveOf(j) + 1) % assets.length]!,
              amount: 80n + BigInt((j * 7 + r * 13) % 31),
            },
            partial: (j + r) % 3 === 0,
            expires: ctx.height() + 200n,
            notes: [note],
            // every other intent pays the gossip route from its entry node a reward out of its surplus
            ...(j % 2 === 1 ? { routeFee: ROUTE_FEE, entry: fromHex(nodeKeys[j % ctx.rpcs.length]!) } : {}),
          });
          try {
            const rpc = ctx.rpcs[j % ctx.rpcs.length]!;
            const res = await rpc.call<{ id: string; swap: string }>('submitIntent', {
              intent: toHex(swapIntentBytes(intent)),
            });
            round.push(res.swap);
            submitted++;
          } catch (e) {
            const reason = (e as { data?: { reason?: string } }).data?.reason ?? (e as Error).message;
            refused[reason] = (refused[reason] ?? 0) + 1;
          }
        }),
      );
      const until = Date.now() + ROUND_WAIT_MS;
      while (Date.now() < until && !round.every((id) => settledIntents.has(id))) {
        ctx.progress(
          `intents  round ${r + 1}/${rounds}: ${submitted} submitted, ${settledIntents.size} settled`,
        );
        await sleep(200);
      }
    }
    ctx.progress(`intents  ${submitted} submitted, ${settledIntents.size} settled`);
  } finally {
    await sub.close();
  }
  const accepted = settlements.filter((s) => s.accepted);
  const surpluses = accepted
    .flatMap((s) => s.fills)
    .map(surplusOf)
    .filter((x): x is number => x !== undefined);
  return {
    submitted,
    refused,
    matched: settlements.reduce((n, s) => n + s.fills.length, 0),
    settled: settledIntents.size,
    settlements: accepted.length,
    failedSettlements: settlements.length - accepted.length,
    averageSurplus: surpluses.length === 0 ? null : surpluses.reduce((a, b) => a + b, 0) / surpluses.length,
    rewardsPaid: Number((await rewardsHeld()) - rewardsBefore),
    seconds: (Date.now() - start) / 1000,
  };
}

export function printIntentSummary(s: IntentWorkloadSummary, nodes: number, out: (l: string) => void): void {
  out('');
  out(
    `devnet intents (swaps among ${DEMO_ASSET_IDS.length} assets, gossip on ${nodes} nodes, a solver on v0)`,
  );
  const refused = Object.keys(s.refused).length > 0 ? `, refused ${JSON.stringify(s.refused)}` : '';
  out(`  intents        ${s.submitted} submitted${refused}, ${s.matched} matched, ${s.settled} settled`);
  out(
    `  settlements    ${s.settlements} executed, ${s.failedSettlements} failed (each a batch at uniform prices), in ${s.seconds.toFixed(1)} s`,
  );
  out(
    `  surplus        ${s.averageSurplus === null ? 'none settled' : `average ${(100 * s.averageSurplus).toFixed(1)} % above the limit price`}`,
  );
  out(`  rewards        ${s.rewardsPaid} paid to gossip nodes on the settled intents' routes`);
}
