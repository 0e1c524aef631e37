/**
 * Reliability findings of issue 13 on one live node (a one-validator instance): each test here
 * failed on the code before its fix.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsensusStore } from '../engines/consensus/store.ts';
import { toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { buildMint, envelopeFor, tokenOf } from './client.ts';
import { DEMO_FEE_BALANCE, loadNodeConfig } from './config.ts';
import type { Layout } from './layout.ts';
import type { LiveNode, NodeStatus } from './node.ts';
import { ERR, RpcClient, RpcError } from './rpc/index.ts';
import { signingStateFile } from './signing-state.ts';
import { SubmitUnanswered } from './submit-error.ts';
import { oneValidatorNetwork, until as poll, startLayoutNode } from './testing.ts';

const INSTANCE = 'fractal-reliability';
const until = <T>(what: string, probe: () => Promise<T | undefined>) => poll(what, 30_000, probe);

const startNode = (layout: Layout) => startLayoutNode(layout);

const reason = (p: Promise<unknown>) =>
  p.then(
    () => 'admitted',
    (e: unknown) =>
      e instanceof RpcError ? ((e.data as { reason?: string })?.reason ?? e.message) : String(e),
  );

describe('a live node under the reliability findings', () => {
  let net: ReturnType<typeof oneValidatorNetwork>;
  let layout: Layout;
  let node: LiveNode;
  let rpc: RpcClient;
  const height = async () => BigInt((await rpc.call<NodeStatus>('status')).height);
  const receipt = (hash: string) =>
    rpc.call<{ accepted: boolean; phase: string; reason: string; height: string }>('receipt', { hash });

  beforeAll(async () => {
    net = oneValidatorNetwork('reliability', INSTANCE);
    layout = net.layout;
    node = await startNode(layout);
    rpc = new RpcClient(node.rpc.url);
  });

  afterAll(async () => {
    await node?.stop();
    net.done();
  });

  it('1. a committed envelope replayed after a restart is refused, and its first receipt stays', async () => {
    const token = tokenOf(keyPairFromSeed(layout.authority).publicKey);
    const alice = keyPairFromSeed(layout.clients[0]!).publicKey;
    const mint = envelopeFor(buildMint(token, layout.authority, alice, [500n]), {
      instance: INSTANCE,
      payerKey: layout.authority,
      fee: 10n,
      height: await height(),
    });
    await rpc.call('submit', { tx: toHex(mint.bytes) });
    expect(await until('the mint receipt', () => receipt(mint.hash).catch(() => undefined))).toMatchObject({
      accepted: true,
    });
    // the restarted node's mempool has an empty memory: the ledger's nonce record refuses the copy
    await node.stop('test');
    node = await startNode(layout);
    rpc = new RpcClient(node.rpc.url);
    expect(await reason(rpc.call('submit', { tx: toHex(mint.bytes) }))).toBe('replay');
    const later = (await height()) + 3n;
    await until('three more heights executed', async () => {
      const s = await rpc.call<NodeStatus>('status');
      return BigInt(s.executedHeight) >= later ? s : undefined;
    });
    expect(await receipt(mint.hash)).toMatchObject({ accepted: true, phase: 'commit' });
  });

  it('a submission the mempool gives no verdict on is a typed "unavailable" error, not an internal one', async () => {
    // an overloaded mempool (found by the devnet bench under load): the client must learn the
    // envelope's fate is unknown, with a reason, instead of a bare -32603
    const live = node as { submit: LiveNode['submit'] };
    const real = live.submit;
    live.submit = () => Promise.reject(new SubmitUnanswered('mempool-timeout', 10_000));
    try {
      const err = await rpc.call('submit', { tx: '00' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe(ERR.UNAVAILABLE);
      expect((err as RpcError).data).toEqual({ reason: 'mempool-timeout' });
      expect((err as RpcError).message).toMatch(/may still be admitted/);
    } finally {
      live.submit = real;
    }
  });

  it('3. an unfunded key cannot buy priority; a funded payer pays its fee even when its transaction fails', async () => {
    const stranger = new Uint8Array(32).fill(0x5a);
    const spam = envelopeFor(buildMint(tokenOf(new Uint8Array(32)), stranger, stranger, [1n]), {
      instance: INSTANCE,
      payerKey: stranger,
      fee: 10n ** 12n,
      height: await height(),
    });
    expect(await reason(rpc.call('submit', { tx: toHex(spam.bytes) }))).toBe('cannot-pay');
    // a client's mint it is not allowed to make (it is not the mint authority): refused at
    // validity, but the fee is paid all the same
    const client = layout.clients[0]!;
    const me = toHex(keyPairFromSeed(client).publicKey);
    const token = tokenOf(keyPairFromSeed(layout.authority).publicKey);
    const forged = envelopeFor(buildMint(token, client, keyPairFromSeed(client).publicKey, [1n]), {
      instance: INSTANCE,
      payerKey: client,
      fee: 1234n,
      height: await height(),
    });
    await rpc.call('submit', { tx: toHex(forged.bytes) });
    const r = await until('the refused mint', () => receipt(forged.hash).catch(() => undefined));
    expect(r.accepted).toBe(false);
    const fee = await rpc.call<{ balance: string }>('feeBalance', { account: me });
    expect(BigInt(fee.balance)).toBe(DEMO_FEE_BALANCE - 1234n);
    // the proposer (the only validator, funded at genesis to pay for its settlements) was credited
    // with every fee paid so far
    const validator = toHex(node.publicKey);
    const credited = await rpc.call<{ balance: string }>('feeBalance', { account: validator });
    expect(BigInt(credited.balance)).toBe(DEMO_FEE_BALANCE + 10n + 1234n);
  });
});

/** A fresh one-validator network in its own folder, for tests that damage it. */
function scratch(name: string) {
  const net = oneValidatorNetwork(name, INSTANCE);
  return { ...net, db: join(net.dir, net.layout.nodes[0]!.name, 'data', 'node.sqlite') };
}

async function runUntilHeight(layout: Layout, h: number): Promise<LiveNode> {
  const n = await startNode(layout);
  const r = new RpcClient(n.rpc.url);
  await until(`height ${h}`, async () =>
    (await r.call<NodeStatus>('status')).height >= h ? true : undefined,
  );
  return n;
}

describe('a damaged database or disk', () => {
  it('4. a byte flipped inside a record (invisible to SQLite) makes the node refuse to start, saying so', async () => {
    const s = scratch('corrupt');
    try {
      const n = await runUntilHeight(s.layout, 3);
      await n.stop('test');
      const raw = new Database(s.db);
      // the last committed block: a flipped byte in its value
      raw.exec(
        "UPDATE fractal_kv SET v = substr(v, 1, 40) || X'ff' || substr(v, 42) WHERE k = (SELECT max(k) FROM fractal_kv WHERE k < CAST('c/blocl' AS BLOB) AND k > CAST('c/block/' AS BLOB))",
      );
      expect(raw.prepare('SELECT changes()').pluck().get()).toBe(1);
      raw.close();
      await expect(startNode(s.layout)).rejects.toThrow(
        /database .* is damaged: records fail their checksum/,
      );
    } finally {
      s.done();
    }
  });

  it('4. an engine whose storage fails at run time stops the whole node, saying why', async () => {
    const s = scratch('failing');
    try {
      const n = await runUntilHeight(s.layout, 2);
      // damage the executor's height record under the running node: its next read fails the checksum
      const raw = new Database(s.db);
      raw.exec("UPDATE fractal_kv SET c = c + 1 WHERE k = CAST('x/h' AS BLOB)");
      raw.close();
      await n.done;
      expect(n.failed).toMatch(/the executor engine failed: its storage failed: .*fails its checksum/);
      expect(n.storage.closed).toBe(true);
    } finally {
      s.done();
    }
  });

  it('5. a validator whose database was emptied signs nothing at or below what it signed before', async () => {
    const s = scratch('emptied');
    try {
      const n = await runUntilHeight(s.layout, 4);
      await n.stop('test');
      const config = loadNodeConfig(s.layout.nodes[0]!.config);
      const state = signingStateFile(config.identityKey);
      const before = readFileSync(state, 'utf8');
      expect(BigInt(JSON.parse(before).height)).toBeGreaterThanOrEqual(4n);
      writeFileSync(s.db, Buffer.alloc(0));
      for (const suffix of ['-wal', '-shm']) rmSync(`${s.db}${suffix}`, { force: true });
      const again = await startNode(s.layout);
      try {
        // it starts afresh at height 1: it would have proposed, then prevoted nil on the timeout
        await until('the prevote step of height 1', async () => {
          const c = again.consensusState();
          return c !== undefined && c.height === 1n && c.round.step === 'prevote' ? true : undefined;
        });
        expect(again.height).toBe(0n);
        expect(readFileSync(state, 'utf8')).toBe(before);
        expect(new ConsensusStore(again.storage).wal(1n)).toEqual([]);
      } finally {
        await again.stop('test');
      }
    } finally {
      s.done();
    }
  });

  it('6. a full disk stops the node with one line, loses nothing committed, and it resumes once there is room', async () => {
    const s = scratch('full');
    try {
      const file = s.layout.nodes[0]!.config;
      const config = JSON.parse(readFileSync(file, 'utf8'));
      const n = await runUntilHeight(s.layout, 2);
      await n.stop('test');
      const pages = Math.ceil(statSync(s.db).size / (1024 * 1024)) + 1;
      writeFileSync(file, JSON.stringify({ ...config, maxDatabaseMiB: pages }));
      const full = await startNode(s.layout);
      const rpc = new RpcClient(full.rpc.url);
      // fill it: mints with large notes until the database reaches its quota
      const token = tokenOf(keyPairFromSeed(s.layout.authority).publicKey);
      const alice = keyPairFromSeed(s.layout.clients[0]!).publicKey;
      let k = 0;
      while (full.failed === undefined && k < 5000) {
        const mint = envelopeFor(buildMint(token, s.layout.authority, alice, Array(40).fill(7n)), {
          instance: INSTANCE,
          payerKey: s.layout.authority,
          fee: 1n,
          height: full.height,
        });
        await rpc.call('submit', { tx: toHex(mint.bytes) }).catch(() => undefined);
        k++;
      }
      await full.done;
      expect(full.failed).toMatch(/^the disk is full .*nothing committed is lost/);
      const committed = full.height;
      // room again: it resumes from its database with every committed height, and goes on
      writeFileSync(file, JSON.stringify(config));
      const resumed = await startNode(s.layout);
      try {
        expect(resumed.height).toBeGreaterThanOrEqual(committed - 1n);
        await until('a new height after the resume', async () =>
          resumed.height > committed ? true : undefined,
        );
        expect(resumed.failed).toBeUndefined();
      } finally {
        await resumed.stop('test');
      }
    } finally {
      s.done();
    }
  });
});
