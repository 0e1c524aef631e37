/**
 * A node that cannot have its listen addresses (a taken RPC or P2P port, a host that does not
 * resolve or is not this machine's) does not start: `LiveNode.start` rejects with a ListenError
 * naming the address, before the engines run or a peer is dialled, and leaves nothing running;
 * `fractal node` prints one line and exits non-zero.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGenesis, loadIdentity, loadNodeConfig, type NodeConfig } from './config.ts';
import { createLayout, freePortBase, type Layout, portFree } from './layout.ts';
import { ListenError } from './listen.ts';
import { LiveNode } from './node.ts';

const FRACTAL = fileURLToPath(new URL('../bin/fractal.js', import.meta.url));

function listenTcp(port: number, onConnection: () => void = () => {}): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((socket) => {
      onConnection();
      socket.destroy();
    });
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

const closeTcp = (s: Server) => new Promise<void>((r) => s.close(() => r()));

describe('listen failures at start-up', () => {
  let dir: string;
  let layout: Layout;
  let base: NodeConfig;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fractal-listen-'));
    layout = createLayout(dir, {
      validators: 2,
      clients: 1,
      host: '127.0.0.1',
      basePort: await freePortBase(4, 33_000 + (process.pid % 500) * 8),
      instance: 'fractal-listen-test',
      blockInterval: 20,
    });
    base = { ...loadNodeConfig(layout.nodes[0]!.config), logLevel: 'silent' };
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = (config: NodeConfig) =>
    LiveNode.start({
      config,
      genesis: loadGenesis(config.genesis),
      identity: loadIdentity(config.identityKey),
    });

  async function refusal(config: NodeConfig): Promise<ListenError> {
    const e = await start(config).then(
      (n) => n.stop().then(() => undefined),
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ListenError);
    return e as ListenError;
  }

  it('a taken RPC port: a ListenError naming it, nothing left running, no peer dialled', async () => {
    let peerConnections = 0;
    // v1's P2P address: v0 would dial it once its network started
    const peer = await listenTcp(Number(new URL(layout.nodes[1]!.p2p).port), () => {
      peerConnections++;
    });
    const squatter = await listenTcp(base.rpc.port);
    try {
      const e = await refusal(base);
      expect(e).toMatchObject({ service: 'RPC', host: '127.0.0.1', port: base.rpc.port, code: 'EADDRINUSE' });
      expect(e.message).toBe(
        `cannot listen for RPC on 127.0.0.1:${base.rpc.port}: the port is already in use (another node or program holds it) (EADDRINUSE)`,
      );
      // the P2P port it had bound was released, and its peer was never dialled
      expect(await portFree(base.p2p.port)).toBe(true);
      expect(peerConnections).toBe(0);
    } finally {
      await closeTcp(squatter);
      await closeTcp(peer);
    }
    // the same node starts once the port is free (its database was closed cleanly)
    const node = await start(base);
    await node.stop();
  });

  it('a taken P2P port', async () => {
    const squatter = await listenTcp(base.p2p.port);
    try {
      const e = await refusal(base);
      expect(e).toMatchObject({ service: 'P2P', port: base.p2p.port, code: 'EADDRINUSE' });
      expect(await portFree(base.rpc.port)).toBe(true);
    } finally {
      await closeTcp(squatter);
    }
  });

  it('a host that does not resolve, and one that is not this machine’s', async () => {
    const unresolvable = await refusal({ ...base, p2p: { ...base.p2p, host: 'no-such-host.invalid' } });
    expect(unresolvable).toMatchObject({ service: 'P2P', host: 'no-such-host.invalid' });
    expect(unresolvable.message).toMatch(/does not resolve/);
    const foreign = await refusal({ ...base, rpc: { ...base.rpc, host: '192.0.2.1' } });
    expect(foreign).toMatchObject({ service: 'RPC', host: '192.0.2.1', code: 'EADDRNOTAVAIL' });
    expect(foreign.message).toMatch(/not an address of this machine/);
    expect(await portFree(base.p2p.port)).toBe(true);
  });

  it('fractal node with its RPC port taken prints one line and exits 1', async () => {
    const config = join(dir, 'v0', 'config.json');
    const json = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
    writeFileSync(config, JSON.stringify({ ...json, logLevel: 'silent' }));
    const squatter = await listenTcp(base.rpc.port);
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        // the deadline only ends a child that would otherwise validate forever without RPC
        const child = execFile(
          process.execPath,
          [FRACTAL, 'node', '--config', config],
          { timeout: 60_000 },
          (e, _out, stderr) =>
            resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, stderr }),
        );
        child.stdin?.end();
      });
      expect(r.stderr.trimEnd().split('\n')).toEqual([
        `error: cannot listen for RPC on 127.0.0.1:${base.rpc.port}: the port is already in use (another node or program holds it) (EADDRINUSE)`,
      ]);
      expect(r.code).toBe(1);
    } finally {
      await closeTcp(squatter);
    }
  }, 90_000);
});
