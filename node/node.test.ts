/**
 * One live node in this process (a one-validator instance: it runs the DKG alone): RPC in and
 * out, bad requests refused with JSON-RPC errors, a graceful stop, a restart that resumes from
 * its database, and a data directory that refuses another genesis.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { FeedMessage } from '../viz/protocol.ts';
import { toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { buildMint, buildTransfer, envelopeFor, type NoteJson, tokenOf } from './client.ts';
import { ConfigError } from './config.ts';
import { createLayout, type Layout } from './layout.ts';
import type { LiveNode, NodeStatus } from './node.ts';
import { ERR, RpcClient, RpcError } from './rpc/index.ts';
import { until as poll, startLayoutNode } from './testing.ts';

const until = <T>(what: string, probe: () => Promise<T | undefined>) => poll(what, 30_000, probe);

const startNode = (layout: Layout) => startLayoutNode(layout);

describe('a live node', () => {
  let dir: string;
  let layout: Layout;
  let node: LiveNode;
  let rpc: RpcClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fractal-node-'));
    layout = createLayout(dir, {
      validators: 1,
      clients: 2,
      host: '127.0.0.1',
      basePort: 0,
      instance: 'fractal-node-test',
      blockInterval: 20,
    });
    node = await startNode(layout);
    rpc = new RpcClient(node.rpc.url);
  });

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the DKG, executes a mint and a transfer submitted over RPC, and answers queries', async () => {
    const key = await until(
      'the epoch key',
      async () => (await rpc.call<NodeStatus>('status')).epochKey ?? undefined,
    );
    const token = tokenOf(keyPairFromSeed(layout.authority).publicKey);
    const [alice, bob] = layout.clients.map((s) => keyPairFromSeed(s).publicKey) as [Uint8Array, Uint8Array];
    const height = BigInt((await rpc.call<NodeStatus>('status')).height);
    const mint = envelopeFor(buildMint(token, layout.authority, alice, [700n]), {
      instance: 'fractal-node-test',
      payerKey: layout.authority,
      fee: 10n,
      height,
    });
    expect(await rpc.call('submit', { tx: toHex(mint.bytes) })).toEqual({ hash: mint.hash });
    const receipt = await until('the mint receipt', () =>
      rpc.call<{ accepted: boolean; includedAt: string }>('receipt', { hash: mint.hash }),
    );
    expect(receipt).toMatchObject({ accepted: true, phase: 'commit', encrypted: false });
    const [note] = await rpc.call<NoteJson[]>('notes', { owner: toHex(alice) });
    // an encrypted transfer of 300 to bob: decrypted after ordering, then executed
    const transfer = envelopeFor(buildTransfer(token, layout.clients[0]!, note!, bob, 300n), {
      instance: 'fractal-node-test',
      payerKey: layout.clients[0]!,
      fee: 10n,
      height,
      epochKey: key,
    });
    await rpc.call('submit', { tx: toHex(transfer.bytes) });
    const t = await until('the transfer receipt', () =>
      rpc.call<{ accepted: boolean }>('receipt', { hash: transfer.hash }),
    );
    expect(t).toMatchObject({ accepted: true, encrypted: true });
    expect(await rpc.call('balance', { owner: toHex(bob) })).toMatchObject({ amount: '300' });
    expect(await rpc.call('balance', { owner: toHex(alice) })).toMatchObject({ amount: '400' });
    const block = await rpc.call<{ txs: string[] }>('block', { height: receipt.includedAt });
    expect(block.txs).toContain(mint.hash);
    const metrics = await (await fetch(`${node.rpc.url}/metrics`)).text();
    expect(metrics).toMatch(/fractal_height\{node="v0"\} [1-9]/);
    expect(metrics).toMatch(/fractal_engine_messages_total\{[^}]*engine="consensus"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/fractal_tx_latency_seconds_count\{node="v0"\} [1-9]/);
  });

  it('refuses bad requests with JSON-RPC errors and keeps serving', async () => {
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (e instanceof RpcError ? e.code : String(e)),
      );
    expect(await code(rpc.call('submit', { tx: 'zz' }))).toBe(ERR.INVALID_PARAMS);
    expect(await code(rpc.call('submit', { tx: '00010203' }))).toBe(ERR.REJECTED);
    expect(await code(rpc.call('block', { height: '-1' }))).toBe(ERR.INVALID_PARAMS);
    expect(await code(rpc.call('block', { height: '99999999' }))).toBe(ERR.NOT_FOUND);
    expect(await code(rpc.call('receipt', { hash: '00'.repeat(32) }))).toBe(ERR.NOT_FOUND);
    expect(await code(rpc.call('balance', { owner: '00' }))).toBe(ERR.INVALID_PARAMS);
    expect(await code(rpc.call('nope'))).toBe(ERR.METHOD_NOT_FOUND);
    const raw = await fetch(node.rpc.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","method":',
    });
    expect(((await raw.json()) as { error: { code: number } }).error.code).toBe(ERR.PARSE);
    expect((await rpc.call<NodeStatus>('status')).height).toBeGreaterThan(0);
  });

  it('serves the visualiser: the page, and a feed of its engines that stops costing once the page leaves', async () => {
    const page = await fetch(node.vizUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('app.js');
    const js = await fetch(new URL('app.js', node.vizUrl));
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await js.text()).length).toBeGreaterThan(10_000);
    const ws = new WebSocket(new URL('ws', node.vizUrl.replace(/^http/, 'ws')));
    const messages: FeedMessage[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as FeedMessage));
    const hello = await until('the hello', async () => messages.find((m) => m.type === 'hello'));
    expect(hello.type === 'hello' && hello.mode).toBe('live');
    expect(hello.type === 'hello' && hello.nodes[0]!.engines.map((e) => e.name)).toEqual(
      node.graph.engineNames(),
    );
    expect(node.graph.inspector.active).toBe(true);
    const events = await until('events', async () => {
      const n = messages
        .filter((m) => m.type === 'batch')
        .flatMap((m) => (m.type === 'batch' ? m.events : []));
      return n.length > 0 ? n : undefined;
    });
    expect(events.every((e) => e.node === node.graph.node)).toBe(true);
    const status = await until('a status with consensus', async () =>
      messages.findLast((m) => m.type === 'status' && m.nodes[0]?.consensus !== undefined),
    );
    expect(status.type === 'status' && Number(status.nodes[0]!.consensus!.height)).toBeGreaterThan(1);
    ws.send(JSON.stringify({ type: 'control', op: 'pause' }));
    await until('an error: a live node takes no controls', async () =>
      messages.find((m) => m.type === 'error' && /takes no controls/.test(m.message)),
    );
    ws.close();
    await until('the inspector idle again', async () => (node.graph.inspector.active ? undefined : true));
  });

  it('stops gracefully and resumes from its database', async () => {
    const before = await rpc.call<NodeStatus>('status');
    await node.stop('test');
    expect(node.storage.closed).toBe(true);
    node = await startNode(layout);
    rpc = new RpcClient(node.rpc.url);
    const after = await until('a new block after the restart', async () => {
      const s = await rpc.call<NodeStatus>('status');
      return s.height > before.height ? s : undefined;
    });
    expect(after.epochKey).toEqual(before.epochKey);
    const bob = toHex(keyPairFromSeed(layout.clients[1]!).publicKey);
    expect(await rpc.call('balance', { owner: bob })).toMatchObject({ amount: '300' });
    const r = await rpc.call<{ root: string }>('appRoot', { height: String(before.executedHeight) });
    expect(r.root).toBe(before.appRoot);
  });

  it('refuses a data directory made for another genesis', async () => {
    await node.stop('test');
    const file = layout.genesis;
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('fractal-node-test', 'fractal-other'));
    try {
      await expect(startNode(layout)).rejects.toThrow(ConfigError);
      await expect(startNode(layout)).rejects.toThrow(/belongs to another genesis/);
    } finally {
      writeFileSync(file, original);
    }
    node = await startNode(layout);
  });
});
