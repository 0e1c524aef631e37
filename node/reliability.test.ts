/**
 * Reliability findings of issue 13 on one live node (a one-validator instance): each test here
 * failed on the code before its fix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { buildMint, envelopeFor, tokenOf } from './client.ts';
import { DEMO_FEE_BALANCE, loadGenesis, loadIdentity, loadNodeConfig } from './config.ts';
import { createLayout, type Layout } from './layout.ts';
import { LiveNode, type NodeStatus } from './node.ts';
import { RpcClient, RpcError } from './rpc/index.ts';
import { until as poll } from './testing.ts';

const INSTANCE = 'fractal-reliability';
const until = <T>(what: string, probe: () => Promise<T | undefined>) => poll(what, 30_000, probe);

function startNode(layout: Layout): Promise<LiveNode> {
  const config = { ...loadNodeConfig(layout.nodes[0]!.config), logLevel: 'silent' as const };
  return LiveNode.start({
    config,
    genesis: loadGenesis(config.genesis),
    identity: loadIdentity(config.identityKey),
  });
}

const reason = (p: Promise<unknown>) =>
  p.then(
    () => 'admitted',
    (e: unknown) =>
      e instanceof RpcError ? ((e.data as { reason?: string })?.reason ?? e.message) : String(e),
  );

describe('a live node under the reliability findings', () => {
  let dir: string;
  let layout: Layout;
  let node: LiveNode;
  let rpc: RpcClient;
  const height = async () => BigInt((await rpc.call<NodeStatus>('status')).height);
  const receipt = (hash: string) =>
    rpc.call<{ accepted: boolean; phase: string; reason: string; height: string }>('receipt', { hash });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fractal-reliability-'));
    layout = createLayout(dir, {
      validators: 1,
      clients: 1,
      host: '127.0.0.1',
      basePort: 0,
      instance: INSTANCE,
      blockInterval: 20,
    });
    node = await startNode(layout);
    rpc = new RpcClient(node.rpc.url);
  });

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
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
    // the proposer (the only validator) was credited with every fee paid so far
    const validator = toHex(node.publicKey);
    const credited = await rpc.call<{ balance: string }>('feeBalance', { account: validator });
    expect(BigInt(credited.balance)).toBe(10n + 1234n);
  });
});
