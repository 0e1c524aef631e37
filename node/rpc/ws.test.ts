/**
 * The WebSocket transport with a raw `ws` client: methods over ws, subscriptions and their
 * ordering, unsubscribe, limits, garbage frames, oversize messages, slow subscribers and shutdown.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ERR } from './errors.ts';
import { WS_CLOSE_LAGGED } from './server.ts';
import { isObj, RawWs, startTestServer, type TestServer, waitFor } from './testing.ts';

let t: TestServer;
const open: RawWs[] = [];

beforeAll(async () => {
  t = await startTestServer({ maxSubscriptionsPerSocket: 3 });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
  await waitFor(() => t.server.stats().sockets === 0);
});
afterAll(async () => {
  await t.server.close();
});

async function connect(url = t.server.wsUrl): Promise<RawWs> {
  const c = await RawWs.open(url);
  open.push(c);
  return c;
}

const isNotification = (m: unknown): m is { method: string; params: Record<string, unknown> } =>
  isObj(m) && m.method === 'subscription' && isObj(m.params);

/** The status of the upgrade response for a WebSocket opened with `origin` (101 when it opened). */
function upgradeStatus(url: string, origin: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, origin === undefined ? {} : { origin });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => {});
  });
}

describe('origins', () => {
  it('a WebSocket from another origin is refused (403); none, the same origin or an allowed one opens', async () => {
    const url = t.server.wsUrl;
    expect(await upgradeStatus(url, 'http://evil.example')).toBe(403);
    expect(await upgradeStatus(url, undefined)).toBe(101);
    expect(await upgradeStatus(url, t.server.url)).toBe(101);
    const allowed = await startTestServer({ corsAllowedOrigins: ['http://localhost:5173'] });
    try {
      expect(await upgradeStatus(allowed.server.wsUrl, 'http://localhost:5173')).toBe(101);
      expect(await upgradeStatus(allowed.server.wsUrl, 'http://evil.example')).toBe(403);
    } finally {
      await allowed.server.close();
    }
  });
});

describe('methods over WebSocket', () => {
  it('answers requests, batches and errors like HTTP', async () => {
    const c = await connect();
    expect(await c.request(1, 'echo', { text: 'ws' })).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { text: 'ws' },
    });
    expect(await c.request(2, 'block', { height: -1 })).toMatchObject({
      id: 2,
      error: { code: ERR.INVALID_PARAMS },
    });
    expect(await c.request(3, 'boom')).toEqual({
      jsonrpc: '2.0',
      id: 3,
      error: { code: ERR.INTERNAL, message: 'internal error' },
    });
    c.ws.send(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'x', method: 'status' },
        { jsonrpc: '2.0', method: 'note', params: ['over-ws'] },
        { jsonrpc: '2.0', id: 'y', method: 'nope' },
      ]),
    );
    const batch = await c.next(Array.isArray);
    expect(batch).toEqual([
      { jsonrpc: '2.0', id: 'x', result: { ok: true } },
      { jsonrpc: '2.0', id: 'y', error: { code: ERR.METHOD_NOT_FOUND, message: 'method not found: "nope"' } },
    ]);
    expect(t.notes).toContain('over-ws');
  });

  it('handles requests on one socket concurrently', async () => {
    const c = await connect();
    const waiting = c.request(1, 'wait', { key: 'ws' });
    expect(await c.request(2, 'open', { key: 'ws' })).toMatchObject({ result: true });
    expect(await waiting).toEqual({ jsonrpc: '2.0', id: 1, result: 'ws opened' });
  });
});

describe('subscriptions', () => {
  it('delivers published payloads after the subscribe response and stops after unsubscribe', async () => {
    const c = await connect();
    const sub = await c.request(1, 'subscribe', ['blocks']);
    const id = sub.result;
    expect(typeof id).toBe('string');
    expect(t.server.stats().subscribers).toBe(1);

    expect(t.server.publish('blocks', { height: 1 })).toBe(1);
    expect(t.server.publish('receipts', { tx: 'r' })).toBe(0); // not subscribed to this topic
    expect(t.server.publish('blocks', { height: 2, hash: '0xaa' })).toBe(1);
    const n1 = await c.next(isNotification);
    const n2 = await c.next(isNotification);
    expect(n1).toEqual({
      jsonrpc: '2.0',
      method: 'subscription',
      params: { topic: 'blocks', subscription: id, result: { height: 1 } },
    });
    expect(n2).toMatchObject({ params: { subscription: id, result: { height: 2, hash: '0xaa' } } });

    expect(await c.request(2, 'unsubscribe', [id])).toEqual({ jsonrpc: '2.0', id: 2, result: true });
    expect(t.server.stats().subscribers).toBe(0);
    expect(t.server.publish('blocks', { height: 3 })).toBe(0);
    // A round trip on the same socket: anything published before it would have arrived first.
    await c.request(3, 'status');
    expect(c.messages.filter(isNotification)).toHaveLength(2);
    expect(await c.request(4, 'unsubscribe', { subscription: id })).toMatchObject({ result: false });
  });

  it('takes {topic} by name, fans out to every subscriber, and several topics per socket', async () => {
    const a = await connect();
    const b = await connect();
    const sa = (await a.request(1, 'subscribe', { topic: 'receipts' })).result;
    const sb = (await b.request(1, 'subscribe', ['receipts'])).result;
    const sb2 = (await b.request(2, 'subscribe', ['blocks'])).result;
    expect(new Set([sa, sb, sb2]).size).toBe(3);
    expect(t.server.publish('receipts', ['r1'])).toBe(2);
    expect(t.server.publish('blocks', 'b1')).toBe(1);
    expect(await a.next(isNotification)).toMatchObject({ params: { subscription: sa, result: ['r1'] } });
    const got = [await b.next(isNotification), await b.next(isNotification)];
    expect(got).toEqual([
      {
        jsonrpc: '2.0',
        method: 'subscription',
        params: { topic: 'receipts', subscription: sb, result: ['r1'] },
      },
      {
        jsonrpc: '2.0',
        method: 'subscription',
        params: { topic: 'blocks', subscription: sb2, result: 'b1' },
      },
    ]);
  });

  it('closing the socket removes its subscriptions', async () => {
    const c = await connect();
    await c.request(1, 'subscribe', ['blocks']);
    await c.request(2, 'subscribe', ['blocks']);
    expect(t.server.stats().subscribers).toBe(2);
    await c.close();
    await waitFor(() => t.server.stats().subscribers === 0);
    expect(t.server.publish('blocks', 1)).toBe(0);
  });

  it('refuses unknown topics, bad params and too many subscriptions', async () => {
    const c = await connect();
    expect(await c.request(1, 'subscribe', ['nope'])).toMatchObject({
      error: { code: ERR.INVALID_PARAMS, message: 'topic: unknown topic "nope" (topics: blocks, receipts)' },
    });
    expect(await c.request(2, 'subscribe', [])).toMatchObject({
      error: { code: ERR.INVALID_PARAMS, message: 'topic: required (string)' },
    });
    expect(await c.request(3, 'subscribe', { topic: 'blocks', extra: 1 })).toMatchObject({
      error: { code: ERR.INVALID_PARAMS },
    });
    expect(await c.request(4, 'unsubscribe', [42])).toMatchObject({ error: { code: ERR.INVALID_PARAMS } });
    for (let i = 0; i < 3; i++)
      expect(await c.request(10 + i, 'subscribe', ['blocks'])).toHaveProperty('result');
    expect(await c.request(20, 'subscribe', ['blocks'])).toMatchObject({
      error: { code: ERR.LIMIT, message: 'at most 3 subscriptions per connection' },
    });
  });

  it('subscribe inside a batch: the subscription goes live only once the response is sent', async () => {
    const c = await connect();
    c.ws.send(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'subscribe', params: ['blocks'] },
        { jsonrpc: '2.0', id: 2, method: 'wait', params: ['batch'] },
        { jsonrpc: '2.0', method: 'note', params: ['batch-seen'] },
      ]),
    );
    // The batch is being handled (its entries start in order) but its response is held up by `wait`.
    await waitFor(() => t.notes.includes('batch-seen'));
    expect(t.server.publish('blocks', 'early')).toBe(0);
    expect(await c.request(3, 'open', ['batch'])).toMatchObject({ result: true });
    const batch = (await c.next(Array.isArray)) as { result: unknown }[];
    const id = batch[0]?.result;
    expect(batch[1]?.result).toBe('batch opened');
    expect(t.server.publish('blocks', 'late')).toBe(1);
    expect(await c.next(isNotification)).toMatchObject({ params: { subscription: id, result: 'late' } });
    expect(c.messages.filter(isNotification)).toHaveLength(1);
  });

  it('publish: an unknown topic throws, a payload that is not JSON-safe is logged and dropped', async () => {
    expect(() => t.server.publish('nope', 1)).toThrow(/unknown topic/);
    const c = await connect();
    await c.request(1, 'subscribe', ['blocks']);
    expect(t.server.publish('blocks', { big: 1n })).toBe(0);
    expect(t.logs.some((l) => l.msg.includes('publish payload is not JSON-safe'))).toBe(true);
    expect(t.server.publish('blocks', { ok: 1 })).toBe(1);
    expect(await c.next(isNotification)).toMatchObject({ params: { result: { ok: 1 } } });
  });
});

describe('bad input over WebSocket', () => {
  it('garbage frames get error responses and the socket keeps working', async () => {
    const c = await connect();
    c.ws.send('{not json');
    expect(await c.next()).toMatchObject({ id: null, error: { code: ERR.PARSE } });
    c.ws.send('');
    expect(await c.next()).toMatchObject({ id: null, error: { code: ERR.PARSE } });
    c.ws.send('42');
    expect(await c.next()).toMatchObject({ id: null, error: { code: ERR.INVALID_REQUEST } });
    c.ws.send('[]');
    expect(await c.next()).toMatchObject({ id: null, error: { code: ERR.INVALID_REQUEST } });
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'status', params: 'x' }));
    expect(await c.next()).toMatchObject({ id: 5, error: { code: ERR.INVALID_REQUEST } });
    c.ws.send(Buffer.from([0x7b, 0x00, 0xff]), { binary: true });
    expect(await c.next()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: ERR.INVALID_REQUEST, message: 'invalid request: binary messages are not supported' },
    });
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'boom' })); // a failing notification: no answer
    expect(await c.request(6, 'echo', ['still here'])).toMatchObject({ result: { text: 'still here' } });
    expect(c.messages).toHaveLength(7);
  });

  it('a message over maxBodyBytes closes the socket with 1009', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(70 * 1024)] }));
    expect((await c.closed).code).toBe(1009);
    const d = await connect();
    expect(await d.request(1, 'status')).toMatchObject({ result: { ok: true } });
  });

  it('invalid UTF-8 in a text frame closes the socket (1007), the server lives on', async () => {
    const c = await connect();
    // ws validates UTF-8 on send only through its public API, so write a raw masked text frame.
    const payload = Buffer.from([0xff, 0xfe]);
    const mask = Buffer.from([1, 2, 3, 4]);
    const frame = Buffer.concat([
      Buffer.from([0x81, 0x80 | payload.length]),
      mask,
      payload.map((b, i) => b ^ (mask[i % 4] ?? 0)),
    ]);
    (c.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(frame);
    expect((await c.closed).code).toBe(1007);
    const d = await connect();
    expect(await d.request(1, 'status')).toMatchObject({ result: { ok: true } });
  });

  it('an upgrade on another path is refused', async () => {
    const ws = new WebSocket(`${t.server.url.replace('http', 'ws')}/other`);
    const err = await new Promise<Error>((resolve) => ws.once('error', resolve));
    expect(err.message).toMatch(/404/);
  });
});

describe('in-flight limit', () => {
  it('a socket with maxInflightPerSocket requests running is not read further until one finishes', async () => {
    const s = await startTestServer({ maxInflightPerSocket: 2 });
    try {
      const c = await RawWs.open(s.server.wsUrl);
      const base = s.server.stats().requests;
      const a = c.request(1, 'wait', ['inflight-a']);
      const b = c.request(2, 'wait', ['inflight-b']);
      await waitFor(() => s.server.stats().requests === base + 2);
      c.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'note', params: ['third'] }));
      await new Promise((r) => setTimeout(r, 50));
      expect(s.notes).not.toContain('third');
      const other = await RawWs.open(s.server.wsUrl); // other sockets are unaffected
      expect(await other.request(1, 'open', ['inflight-a'])).toMatchObject({ result: true });
      expect(await a).toMatchObject({ result: 'inflight-a opened' });
      await waitFor(() => s.notes.includes('third'));
      await other.request(2, 'open', ['inflight-b']);
      expect(await b).toMatchObject({ result: 'inflight-b opened' });
      await Promise.all([c.close(), other.close()]);
    } finally {
      await s.server.close();
    }
  });
});

describe('slow subscribers and shutdown', () => {
  it('a subscriber that does not read gets a lagged notice and is dropped, not buffered without bound', async () => {
    const s = await startTestServer({ maxBufferedPerSocket: 256 * 1024 });
    try {
      const c = await RawWs.open(s.server.wsUrl);
      const id = (await c.request(1, 'subscribe', ['blocks'])).result;
      c.ws.pause(); // stop reading: the kernel buffers fill, then the server's queue grows
      const payload = { data: 'x'.repeat(64 * 1024) };
      let sent = 0;
      while (s.server.publish('blocks', payload) === 1) {
        sent++;
        if (sent > 10_000) throw new Error('the slow subscriber was never dropped');
      }
      expect(s.server.stats().subscribers).toBe(0);
      expect(s.logs.some((l) => l.level === 'warn' && l.msg.includes('lagged'))).toBe(true);
      c.ws.resume();
      const lagged = await c.next((m) => isObj(m) && m.method === 'lagged', 10_000);
      expect(lagged).toMatchObject({ params: { subscriptions: [id], limit: 256 * 1024 } });
      expect((await c.closed).code).toBe(WS_CLOSE_LAGGED);
      // Everything delivered before the notice was a whole notification.
      expect(c.messages.filter(isNotification).length).toBeLessThanOrEqual(sent);
      await waitFor(() => s.server.stats().sockets === 0);
    } finally {
      await s.server.close();
    }
  });

  it('close() closes WebSockets with 1001 and refuses further connections', async () => {
    const s = await startTestServer();
    const c = await RawWs.open(s.server.wsUrl);
    await c.request(1, 'subscribe', ['blocks']);
    const url = s.server.wsUrl;
    await s.server.close();
    expect((await c.closed).code).toBe(1001);
    expect(s.server.stats()).toMatchObject({ subscribers: 0, sockets: 0 });
    expect(s.server.publish('blocks', 1)).toBe(0);
    await expect(RawWs.open(url)).rejects.toThrow();
    await s.server.close(); // idempotent
  });
});
