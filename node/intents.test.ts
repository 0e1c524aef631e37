/**
 * Intents on live nodes: two validators in this process over the real transport, each with intent
 * gossip, the first with a solver. Three users fund their swap accounts, submit a ring of swap
 * intents at different nodes over RPC; the solver's settlement executes, balances move as its
 * fills say, and every pool drops the settled intents once the ledger reports their notes spent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swapNote, swapTx } from '../apps/swap/settlement.ts';
import { held, intentOf, mev, solver, storeWith, users, X, Y } from '../apps/swap/testing.ts';
import { Note, noteKey } from '../engines/executor/notes.ts';
import { fromHex, toHex } from '../wire/commit.ts';
import { encode } from '../wire/schema.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import {
  buildSwapIntent,
  buildSwapMint,
  envelopeFor,
  type NoteJson,
  swapIntentBytes,
  tokenOf,
} from './client.ts';
import { DEMO_ASSET_IDS } from './config.ts';
import { dryRun, type IntentJson, type SettlementJson } from './intents.ts';
import { createLayout, freePortBase, type Layout } from './layout.ts';
import type { LiveNode, NodeStatus } from './node.ts';
import { RpcClient, RpcError } from './rpc/index.ts';
import { startLayoutNode, until } from './testing.ts';

describe('intents on live nodes (gossip and solver roles)', () => {
  let dir: string;
  let layout: Layout;
  let nodes: LiveNode[] = [];
  let rpcs: RpcClient[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fractal-intents-'));
    layout = createLayout(dir, {
      validators: 2,
      clients: 3,
      host: '127.0.0.1',
      basePort: await freePortBase(4, 33_000 + (process.pid % 500) * 8),
      instance: 'fractal-intents',
      blockInterval: 50,
    });
    nodes = await Promise.all([startLayoutNode(layout, 0), startLayoutNode(layout, 1)]);
    rpcs = layout.nodes.map((n) => new RpcClient(n.rpc));
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a ring of three intents submitted at two nodes settles once; the pools drop them', async () => {
    const status = (i: number) => rpcs[i]!.call<NodeStatus>('status');
    const token = tokenOf(keyPairFromSeed(layout.authority).publicKey);
    const { instance } = await status(0);
    const height = async () => BigInt((await status(0)).height);
    await until('a first height', 30_000, async () => ((await height()) >= 1n ? true : undefined));
    const [a, b, c] = DEMO_ASSET_IDS.map(fromHex) as [Uint8Array, Uint8Array, Uint8Array];
    const users = layout.clients.map((seed) => ({ seed, pk: keyPairFromSeed(seed).publicKey }));
    const gives = [a, b, c];

    // each user's swap account gets 100 of the asset it gives
    const mints: string[] = [];
    for (const [i, u] of users.entries()) {
      const env = envelopeFor(buildSwapMint(token, layout.authority, u.pk, gives[i]!, [100n]), {
        instance,
        payerKey: layout.authority,
        fee: 10n,
        nonce: BigInt(i + 1),
        height: await height(),
      });
      await rpcs[0]!.call('submit', { tx: toHex(env.bytes) });
      mints.push(env.hash);
    }
    for (const h of mints) {
      const r = await until(`mint ${h}`, 30_000, () =>
        rpcs[1]!.call<{ accepted: boolean; reason: string }>('receipt', { hash: h }),
      );
      expect(r).toMatchObject({ accepted: true });
    }
    const swapNotes = (i: number, node = 0) =>
      rpcs[node]!.call<NoteJson[]>('notes', { owner: toHex(users[i]!.pk), account: 'swap' });
    const balance = async (i: number, asset: Uint8Array) =>
      (await swapNotes(i)).filter((n) => n.asset === toHex(asset)).reduce((s, n) => s + BigInt(n.amount), 0n);
    // a node that has not executed the mints yet refuses the intent: wait for both
    for (const node of [0, 1])
      await until('the swap notes at both nodes', 30_000, async () =>
        (await swapNotes(2, node)).length === 1 ? true : undefined,
      );

    // the ring: a -> b -> c -> a, each asking 90 for 100
    const expires = (await height()) + 1_000n;
    const intents = await Promise.all(
      users.map(async (u, i) =>
        buildSwapIntent(token, {
          ownerKey: u.seed,
          give: { asset: gives[i]!, amount: 100n },
          want: { asset: gives[(i + 1) % 3]!, amount: 90n },
          partial: false,
          expires,
          notes: await swapNotes(i),
          // user 1's intent, submitted at node 1, pays its route (node 1 -> the solver's node 0) 16 at most
          ...(i === 1 ? { routeFee: 16n, entry: nodes[1]!.publicKey } : {}),
        }),
      ),
    );
    const announced: SettlementJson[] = [];
    const sub = await rpcs[0]!.subscribe('settlements', (s) => announced.push(s as SettlementJson));
    const ids: string[] = [];
    const swapIds: string[] = [];
    for (const [i, intent] of intents.entries()) {
      const r = await rpcs[i % 2]!.call<{ id: string; swap: string }>('submitIntent', {
        intent: toHex(swapIntentBytes(intent)),
      });
      ids.push(r.id);
      swapIds.push(r.swap);
    }
    // the same intent again is refused: gossip has seen it
    await expect(
      rpcs[0]!.call('submitIntent', { intent: toHex(swapIntentBytes(intents[0]!)) }),
    ).rejects.toBeInstanceOf(RpcError);

    const settled = await until('a settlement', 60_000, async () => {
      const s = (await status(0)).intents;
      return s !== null && s.settlements > 0 ? s : undefined;
    });
    expect(settled.settledIntents).toBe(3);
    expect(settled.failedSettlements).toBe(0);
    // each user sold its 100 and bought at least 90 of what it wanted, as the announced fills say
    await until('the settlement announced', 10_000, async () => (announced.length > 0 ? true : undefined));
    await sub.close();
    expect(announced).toHaveLength(1);
    expect(announced[0]!.accepted).toBe(true);
    expect([...announced[0]!.intents].sort()).toEqual([...ids].sort());
    for (const [i, u] of users.entries()) {
      const bought = await balance(i, gives[(i + 1) % 3]!);
      expect(await balance(i, gives[i]!)).toBe(0n);
      expect(bought >= 90n).toBe(true);
      const fill = announced[0]!.fills.find((f) => f.intent === swapIds[i]);
      expect(fill).toEqual({
        intent: swapIds[i],
        owner: toHex(u.pk),
        sold: '100',
        bought: bought.toString(),
        give: '100',
        want: '90',
      });
    }
    // the notes are spent: every pool drops the three intents
    for (const node of [0, 1])
      await until(`node ${node}'s pool empties`, 30_000, async () => {
        const pool = await rpcs[node]!.call<IntentJson[]>('intents', {});
        return pool.some((p) => ids.includes(p.id)) ? undefined : true;
      });
    expect((await status(1)).intents?.submitted).toBe(1);
    // the route was one hop (node 1 handed it to node 0): node 1's token account got 16 / 2^1 of
    // what user 1 wanted, out of user 1's surplus (it still got at least its 90)
    const reward = await rpcs[0]!.call<{ amount: string }>('balance', {
      owner: toHex(nodes[1]!.publicKey),
      asset: toHex(gives[2]!),
    });
    expect(reward.amount).toBe('8');
  }, 120_000);

  it('refuses bad intents with a reason: undecodable, or offering notes not in the swap account', async () => {
    const garbage = rpcs[0]!.call('submitIntent', { intent: 'deadbeef' });
    await expect(garbage).rejects.toThrow(/undecodable intent/);
    const token = tokenOf(keyPairFromSeed(layout.authority).publicKey);
    const [a, b] = DEMO_ASSET_IDS.map(fromHex) as [Uint8Array, Uint8Array];
    const fake: NoteJson = {
      key: toHex(new Uint8Array(32)),
      asset: toHex(a),
      amount: '50',
      note: toHex(
        encode(Note, {
          provenance: [],
          application: token.application,
          owner: new Uint8Array(32),
          key: new Uint8Array(32).fill(7),
          value: new Uint8Array(0),
        }),
      ),
    };
    const intent = buildSwapIntent(token, {
      ownerKey: layout.clients[0]!,
      give: { asset: a, amount: 50n },
      want: { asset: b, amount: 40n },
      partial: true,
      expires: 1_000_000n,
      notes: [fake],
    });
    await expect(rpcs[1]!.call('submitIntent', { intent: toHex(swapIntentBytes(intent)) })).rejects.toThrow(
      /not an unspent swap-owner note/,
    );
  });
});

describe("a solver's settlement, checked by the executor's predicates before submission", () => {
  const a = held(users[0]!, X, 100n, 'dry a');
  const b = held(users[1]!, Y, 100n, 'dry b');
  const ia = intentOf(users[0]!, [a], { give: [X, 100n], want: [Y, 90n] });
  const ib = intentOf(users[1]!, [b], { give: [Y, 100n], want: [X, 90n] });

  const k = (i: number) => new Uint8Array(32).fill(100 + i);

  it('passes when it keeps every limit, and is refused when it pays an owner less than its limit', () => {
    const store = storeWith([a, b]);
    // a swap at 1:1, then the same with user 0 paid 80 (below its limit of 90), re-signed by the solver
    const fair = swapTx(
      [a, b],
      [swapNote(users[0]!.publicKey, Y, 100n, k(1)), swapNote(users[1]!.publicKey, X, 100n, k(2))],
      [ia, ib],
      [solver.secretKey],
    );
    expect(dryRun(fair, store, 1n, mev)).toMatchObject({ accepted: true });
    const short = swapTx(
      [a, b],
      [
        swapNote(users[0]!.publicKey, Y, 80n, k(1)),
        swapNote(users[1]!.publicKey, X, 100n, k(2)),
        swapNote(solver.publicKey, Y, 20n, k(2)),
      ],
      [ia, ib],
      [solver.secretKey],
    );
    const r = dryRun(short, store, 1n, mev);
    expect(r.accepted).toBe(false);
    expect(r.phase).toBe('validity');
    // after the intents expire (intentOf: at 1000) the fair one is refused too
    expect(dryRun(fair, store, 1_001n, mev)).toMatchObject({ accepted: false, phase: 'validity' });
    // a dry run writes nothing: the notes still stand
    expect(store.note(noteKey(a))).toEqual(a);
  });
});
