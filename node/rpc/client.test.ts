/** RpcClient against a real server: call and subscribe round trips, error mapping, socket lifecycle. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient, RpcTransportError } from './client.ts';
import { ERR, RpcError } from './errors.ts';
import { WS_CLOSE_LAGGED } from './server.ts';
import { startTestServer, type TestServer, waitFor } from './testing.ts';

let t: TestServer;
let client: RpcClient;

beforeAll(async () => {
  t = await startTestServer();
  client = new RpcClient(t.server.url);
});
afterAll(async () => {
  await client.close();
  await t.server.close();
});

/** The RpcError `p` rejects with. */
async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error('expected an RpcError');
}

describe('callWs', () => {
  it('gives what call gives, results and errors, over one kept WebSocket', async () => {
    const ws = new RpcClient(t.server.url);
    try {
      expect(await ws.callWs('echo', { text: 'a', count: 3 })).toEqual({ text: 'aaa' });
      expect(await ws.callWs('block', { height: 42n })).toEqual(await ws.call('block', { height: 42n }));
      expect(await Promise.all([1, 2, 3].map((n) => ws.callWs('echo', ['z', n])))).toEqual([
        { text: 'z' },
        { text: 'zz' },
        { text: 'zzz' },
      ]);
      const refused = await rpcError(ws.callWs('refuse'));
      expect([refused.code, refused.data]).toEqual([ERR.REJECTED, { reason: 'fee too low' }]);
      expect(t.server.stats().sockets).toBe(1);
    } finally {
      await ws.close();
    }
    await waitFor(() => t.server.stats().sockets === 0);
  });
});

describe('call', () => {
  it('round trips by name and by position, on / and /rpc', async () => {
    expect(await client.call('echo', { text: 'a', count: 3 })).toEqual({ text: 'aaa' });
    expect(await client.call<{ text: string }>('echo', ['b'])).toEqual({ text: 'b' });
    expect(await client.call('status')).toEqual({ ok: true });
    expect(await new RpcClient(`${t.server.url}/rpc`).call('status')).toEqual({ ok: true });
  });

  it('sends bigints as decimal strings and bytes as 0x hex', async () => {
    expect(await client.call('block', { height: 42n })).toMatchObject({ height: '42' });
    const hash = new Uint8Array(32).fill(7);
    expect(await client.call('hash', [hash])).toBe(`0x${'07'.repeat(32)}`);
  });

  it('maps error responses to RpcError with code, message and data', async () => {
    const nf = await rpcError(client.call('block', [1000]));
    expect([nf.code, nf.message, nf.data]).toEqual([
      ERR.NOT_FOUND,
      'no block at height 1000',
      { height: '1000' },
    ]);
    const bad = await rpcError(client.call('block', { height: -5 }));
    expect([bad.code, bad.message]).toEqual([ERR.INVALID_PARAMS, 'height: must be non-negative, got -5']);
    expect((await rpcError(client.call('nope'))).code).toBe(ERR.METHOD_NOT_FOUND);
    const boom = await rpcError(client.call('rejects'));
    expect([boom.code, boom.message]).toEqual([ERR.INTERNAL, 'internal error']);
    const refused = await rpcError(client.call('refuse'));
    expect([refused.code, refused.data]).toEqual([ERR.REJECTED, { reason: 'fee too low' }]);
    const big = await rpcError(client.call('echo', ['x'.repeat(70 * 1024)]));
    expect(big.code).toBe(ERR.INVALID_REQUEST);
    expect(big.message).toMatch(/exceeds the limit/);
  });

  it('transport failures are RpcTransportError', async () => {
    const s = await startTestServer();
    const url = s.server.url;
    await s.server.close();
    await expect(new RpcClient(url).call('status')).rejects.toBeInstanceOf(RpcTransportError);
    const timeout = new RpcClient(t.server.url, { timeoutMs: 50 });
    await expect(timeout.call('slow', { ms: 500, value: 'x' })).rejects.toBeInstanceOf(RpcTransportError);
    expect(() => new RpcClient('ftp://x')).toThrow(/http/);
  });
});

describe('subscribe', () => {
  it('receives published payloads and stops after close; the socket closes with the last subscription', async () => {
    const blocks: unknown[] = [];
    const receipts: unknown[] = [];
    const sb = await client.subscribe('blocks', (x) => blocks.push(x));
    const sr = await client.subscribe('receipts', (x) => receipts.push(x));
    expect(sb.id).not.toBe(sr.id);
    expect(t.server.stats()).toMatchObject({ subscribers: 2, sockets: 1 }); // one shared socket

    t.server.publish('blocks', { height: 1 });
    t.server.publish('receipts', { tx: '0x01', ok: true });
    t.server.publish('blocks', { height: 2 });
    await waitFor(() => blocks.length === 2 && receipts.length === 1);
    expect(blocks).toEqual([{ height: 1 }, { height: 2 }]);
    expect(receipts).toEqual([{ tx: '0x01', ok: true }]);

    await sb.close();
    expect(t.server.stats().subscribers).toBe(1);
    expect(t.server.publish('blocks', { height: 3 })).toBe(0);
    await sb.close(); // idempotent
    await sr.close();
    await waitFor(() => t.server.stats().sockets === 0);
    expect(blocks).toHaveLength(2);
  });

  it('an unknown topic rejects with RpcError and leaves no socket behind', async () => {
    const e = await rpcError(client.subscribe('nope', () => {}));
    expect(e.code).toBe(ERR.INVALID_PARAMS);
    await waitFor(() => t.server.stats().sockets === 0);
  });

  it('onEnd reports the server closing the socket; a new subscribe opens a fresh one', async () => {
    const s = await startTestServer();
    const c = new RpcClient(s.server.url);
    const ends: { code: number; reason: string }[] = [];
    const sub = await c.subscribe('blocks', () => {}, { onEnd: (info) => ends.push(info) });
    await s.server.close();
    await waitFor(() => ends.length === 1);
    expect(ends[0]).toEqual({ code: 1001, reason: 'server shutting down' });
    await sub.close(); // already ended: a no-op
    await expect(c.subscribe('blocks', () => {})).rejects.toBeInstanceOf(RpcTransportError);
  });

  it('a lagging subscription ends with code 4001', async () => {
    const s = await startTestServer({ maxBufferedPerSocket: 64 * 1024 });
    try {
      const c = new RpcClient(s.server.url);
      let ended: { code: number } | undefined;
      let got = 0;
      await c.subscribe(
        'blocks',
        () => {
          got++;
        },
        { onEnd: (info) => (ended = info) },
      );
      const payload = 'y'.repeat(32 * 1024);
      let n = 0;
      // Published synchronously: nothing is read meanwhile, so the socket's queue must overflow.
      while (s.server.publish('blocks', payload) === 1) n++;
      await waitFor(() => ended !== undefined);
      expect(ended?.code).toBe(WS_CLOSE_LAGGED);
      expect(got).toBeLessThanOrEqual(n);
    } finally {
      await s.server.close();
    }
  });
});

describe('after the bad input', () => {
  it('the server still answers', async () => {
    expect(await client.call('echo', ['fine'])).toEqual({ text: 'fine' });
  });
});
