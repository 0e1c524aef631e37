/**
 * The HTTP transport against a real server on 127.0.0.1: the JSON-RPC 2.0 envelope rules, batches,
 * notifications, limits, handler failures, routes and CORS. The last test checks that after all the
 * bad input the server still answers.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERR } from './errors.ts';
import { RpcServer } from './server.ts';
import { isObj, post, startTestServer, type TestServer } from './testing.ts';

let t: TestServer;
let url: string;

beforeAll(async () => {
  t = await startTestServer({
    routes: {
      '/metrics': (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('requests 1\n');
      },
      '/broken': async () => {
        throw new Error('route secret');
      },
    },
  });
  url = t.server.url;
});
afterAll(async () => {
  await t.server.close();
});

const req = (method: string, params?: unknown, id: unknown = 1): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });

/** POSTs and returns the JSON body, expecting HTTP 200. */
async function rpc(body: string): Promise<unknown> {
  const r = await post(url, body);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  return r.json;
}

function errorOf(res: unknown): { code: number; message: string; data?: unknown } {
  if (!isObj(res) || !isObj(res.error)) throw new Error(`not an error response: ${JSON.stringify(res)}`);
  return res.error as { code: number; message: string; data?: unknown };
}

/** A raw HTTP request (any headers, Host and Origin included); status, headers and body. */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
  port = t.server.port,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('envelope', () => {
  it('answers a good request, by name and by position, on / and /rpc', async () => {
    expect(await rpc(req('echo', { text: 'hi', count: 2 }))).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { text: 'hihi' },
    });
    expect(await rpc(req('echo', ['yo'], 'abc'))).toEqual({
      jsonrpc: '2.0',
      id: 'abc',
      result: { text: 'yo' },
    });
    const r = await post(`${url}/rpc?x=1`, req('status', undefined, null));
    expect(r.json).toEqual({ jsonrpc: '2.0', id: null, result: { ok: true } });
  });

  it('malformed JSON is a parse error with id null', async () => {
    for (const body of ['{', '{"jsonrpc":"2.0","method":"status","id":1', 'nul', '', '\u0000']) {
      const res = await rpc(body);
      expect(res).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: ERR.PARSE } });
    }
  });

  it('a body that is not UTF-8 is a parse error', async () => {
    const bad = new Uint8Array([
      ...Buffer.from('{"jsonrpc":"2.0","method":"'),
      0xff,
      0xfe,
      ...Buffer.from('"}'),
    ]);
    const r = await post(url, bad);
    expect(errorOf(r.json).code).toBe(ERR.PARSE);
  });

  it('a non-object request is invalid', async () => {
    for (const body of ['5', '"status"', 'null', 'true']) {
      const res = await rpc(body);
      expect(res).toMatchObject({ id: null, error: { code: ERR.INVALID_REQUEST } });
    }
  });

  it('wrong or missing jsonrpc, bad id, non-string method and unstructured params are invalid', async () => {
    const cases: [unknown, unknown][] = [
      [{ jsonrpc: '1.0', id: 7, method: 'status' }, 7],
      [{ id: 8, method: 'status' }, 8],
      [{ jsonrpc: 2, id: 9, method: 'status' }, 9],
      [{ jsonrpc: '2.0', id: { a: 1 }, method: 'status' }, null],
      [{ jsonrpc: '2.0', id: [1], method: 'status' }, null],
      [{ jsonrpc: '2.0', id: true, method: 'status' }, null],
      [{ jsonrpc: '2.0', id: 10, method: 5 }, 10],
      [{ jsonrpc: '2.0', id: 11 }, 11],
      [{ jsonrpc: '2.0', id: 12, method: 'status', params: 'x' }, 12],
      [{ jsonrpc: '2.0', id: 13, method: 'status', params: null }, 13],
      // Invalid requests are answered even without an id.
      [{ jsonrpc: '2.0', method: 1 }, null],
    ];
    for (const [body, id] of cases) {
      const res = await rpc(JSON.stringify(body));
      expect(res).toMatchObject({ jsonrpc: '2.0', id, error: { code: ERR.INVALID_REQUEST } });
    }
  });

  it('an unknown method is METHOD_NOT_FOUND, including prototype names', async () => {
    for (const m of ['nope', 'toString', '__proto__', 'constructor', 'hasOwnProperty', '']) {
      expect(errorOf(await rpc(req(m))).code).toBe(ERR.METHOD_NOT_FOUND);
    }
    expect(errorOf(await rpc(req('nope'))).message).toBe('method not found: "nope"');
  });

  it('subscribe over HTTP is METHOD_NOT_FOUND with a hint', async () => {
    const e = errorOf(await rpc(req('subscribe', ['blocks'])));
    expect(e.code).toBe(ERR.METHOD_NOT_FOUND);
    expect(e.message).toMatch(/only available over WebSocket/);
  });
});

describe('invalid params', () => {
  const cases: [string, unknown, string][] = [
    ['hash', { hash: '0xabcd' }, 'hash: expected 32 bytes, got 2'],
    ['hash', { hash: `0x${'g'.repeat(64)}` }, 'hash: not a hex digit "g" at index 0'],
    ['hash', {}, 'hash: required (hex string of 32 bytes)'],
    ['blob', ['00'.repeat(17)], 'data: at most 16 bytes allowed, got 17'],
    ['block', { height: -1 }, 'height: must be non-negative, got -1'],
    [
      'block',
      { height: '18446744073709551616' },
      'height: exceeds the u64 maximum 18446744073709551615, got "18446744073709551616"',
    ],
    ['block', { height: 1.5 }, 'height: must be an integer, got 1.5'],
    ['block', [], 'height: required (u64 as a decimal string or a safe integer)'],
    ['block', { height: 1, extra: 1 }, 'params: unknown field "extra" (expected: height)'],
    ['echo', { count: 1 }, 'text: required (string)'],
    ['echo', { text: 'x', count: 11 }, 'count: must be <= 10, got 11'],
    ['echo', { text: 'x'.repeat(101) }, 'text: at most 100 characters allowed, got 101'],
    ['flags', { on: 'yes', mode: 'fast' }, 'on: expected a boolean, got string'],
    ['flags', { on: true, mode: 'turbo' }, 'mode: must be one of fast, safe, got "turbo"'],
    ['flags', { on: true, mode: 'safe', ids: [1, -1] }, 'ids[1]: must be >= 0, got -1'],
    ['status', [1], 'params: this method takes no params'],
  ];
  it.each(cases)('%s %j → %s', async (m, params, message) => {
    const e = errorOf(await rpc(req(m, params)));
    expect(e).toEqual({ code: ERR.INVALID_PARAMS, message });
  });

  it('valid params of every kind go through', async () => {
    const h = `0x${'ab'.repeat(32)}`;
    expect(await rpc(req('hash', [h.toUpperCase().replace('0X', '')]))).toMatchObject({ result: h });
    expect(await rpc(req('block', { height: '7' }))).toMatchObject({ result: { height: '7' } });
    expect(await rpc(req('flags', [true, 'safe', [1, 2]]))).toMatchObject({
      result: { on: true, mode: 'safe', ids: [1, 2] },
    });
    expect(await rpc(req('blob', { data: '' }))).toMatchObject({ result: 0 });
  });
});

describe('handlers', () => {
  it('a throwing handler is a generic INTERNAL error; the real error is logged, not sent', async () => {
    const r = await post(url, req('boom'));
    expect(r.json).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: ERR.INTERNAL, message: 'internal error' },
    });
    expect(r.text).not.toMatch(/secret|at |\.ts/);
    const log = t.logs.find((l) => l.level === 'error' && JSON.stringify(l.fields).includes('secret detail'));
    expect(log?.fields?.method).toBe('boom');
    expect(String(log?.fields?.stack)).toMatch(/Error: secret detail/);
  });

  it('a rejected promise is a generic INTERNAL error', async () => {
    const r = await post(url, req('rejects'));
    expect(r.json).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: ERR.INTERNAL, message: 'internal error' },
    });
    expect(r.text).not.toMatch(/secret/);
    expect(t.logs.some((l) => JSON.stringify(l.fields).includes('async secret'))).toBe(true);
  });

  it('an RpcError from a handler is passed through with its data', async () => {
    expect(errorOf(await rpc(req('refuse')))).toEqual({
      code: ERR.REJECTED,
      message: 'transaction rejected',
      data: { reason: 'fee too low' },
    });
    expect(errorOf(await rpc(req('block', [1000])))).toEqual({
      code: ERR.NOT_FOUND,
      message: 'no block at height 1000',
      data: { height: '1000' },
    });
  });

  it('a result that is not JSON-safe is an INTERNAL error, logged', async () => {
    expect(errorOf(await rpc(req('bigint')))).toEqual({ code: ERR.INTERNAL, message: 'internal error' });
    expect(t.logs.some((l) => l.msg.includes('not JSON-safe') && l.fields?.method === 'bigint')).toBe(true);
  });

  it('async handlers run concurrently and each answer goes to its own request', async () => {
    // `wait` only returns once `open` has run: handled one at a time, this would deadlock.
    const waiting = rpc(req('wait', { key: 'http' }, 'w'));
    const [slowA, slowB] = [rpc(req('slow', { ms: 30, value: 'a' }, 'a')), rpc(req('slow', [0, 'b'], 'b'))];
    expect(await rpc(req('open', { key: 'http' }, 'o'))).toEqual({ jsonrpc: '2.0', id: 'o', result: true });
    expect(await waiting).toEqual({ jsonrpc: '2.0', id: 'w', result: 'http opened' });
    expect(await slowA).toEqual({ jsonrpc: '2.0', id: 'a', result: 'a' });
    expect(await slowB).toEqual({ jsonrpc: '2.0', id: 'b', result: 'b' });
  });
});

describe('batches and notifications', () => {
  it('a batch with good and bad entries answers each (in order), skipping notifications', async () => {
    const body = JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'echo', params: ['a'] },
      { jsonrpc: '2.0', method: 'note', params: { text: 'from-batch' } },
      { jsonrpc: '2.0', id: 2, method: 'nope' },
      5,
      { jsonrpc: '2.0', id: 3, method: 'block', params: { height: 'x' } },
      { jsonrpc: '2.0', id: 4, method: 'slow', params: { ms: 20, value: 'late' } },
      { jsonrpc: '2.0', id: 5, method: 'boom' },
      { jsonrpc: '1.0', id: 6, method: 'status' },
    ]);
    const res = (await rpc(body)) as Record<string, unknown>[];
    expect(res).toHaveLength(7);
    expect(res[0]).toEqual({ jsonrpc: '2.0', id: 1, result: { text: 'a' } });
    expect(res[1]).toMatchObject({ id: 2, error: { code: ERR.METHOD_NOT_FOUND } });
    expect(res[2]).toMatchObject({ id: null, error: { code: ERR.INVALID_REQUEST } });
    expect(res[3]).toMatchObject({ id: 3, error: { code: ERR.INVALID_PARAMS } });
    expect(res[4]).toEqual({ jsonrpc: '2.0', id: 4, result: 'late' });
    expect(res[5]).toMatchObject({ id: 5, error: { code: ERR.INTERNAL, message: 'internal error' } });
    expect(res[6]).toMatchObject({ id: 6, error: { code: ERR.INVALID_REQUEST } });
    expect(t.notes).toContain('from-batch');
  });

  it('an empty batch is one INVALID_REQUEST error, not an array', async () => {
    expect(await rpc('[]')).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: ERR.INVALID_REQUEST, message: 'invalid request: empty batch' },
    });
  });

  it('a batch of non-objects answers each with INVALID_REQUEST', async () => {
    const res = (await rpc('[1,2]')) as unknown[];
    expect(res).toEqual([
      {
        jsonrpc: '2.0',
        id: null,
        error: { code: ERR.INVALID_REQUEST, message: 'invalid request: expected an object' },
      },
      {
        jsonrpc: '2.0',
        id: null,
        error: { code: ERR.INVALID_REQUEST, message: 'invalid request: expected an object' },
      },
    ]);
  });

  it('a batch over maxBatch is refused whole', async () => {
    const big = JSON.stringify(
      Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'status' })),
    );
    expect(errorOf(await rpc(big))).toEqual({
      code: ERR.INVALID_REQUEST,
      message: 'invalid request: batch of 101 exceeds the limit of 100',
    });
    const ok = JSON.stringify(
      Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'status' })),
    );
    expect(await rpc(ok)).toHaveLength(100);
  });

  it('a notification gets no response body (204) but runs, even if it fails', async () => {
    const r = await post(url, JSON.stringify({ jsonrpc: '2.0', method: 'note', params: ['solo'] }));
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect(t.notes).toContain('solo');
    for (const m of ['boom', 'rejects', 'nope']) {
      const f = await post(url, JSON.stringify({ jsonrpc: '2.0', method: m }));
      expect(f.status).toBe(204);
    }
    const all = await post(
      url,
      JSON.stringify([
        { jsonrpc: '2.0', method: 'note', params: ['b1'] },
        { jsonrpc: '2.0', method: 'note', params: ['b2'] },
      ]),
    );
    expect(all.status).toBe(204);
    expect(t.notes).toEqual(expect.arrayContaining(['b1', 'b2']));
  });
});

describe('limits and HTTP', () => {
  it('a body over maxBodyBytes (declared length) is 413 with a JSON-RPC error', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(70 * 1024)] });
    const r = await post(url, body);
    expect(r.status).toBe(413);
    expect(r.json).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: ERR.INVALID_REQUEST, message: 'request body exceeds the limit of 65536 bytes' },
    });
  });

  it('a streamed (chunked) body is cut off at the limit, before the client has finished', async () => {
    const { status, body, written } = await new Promise<{ status: number; body: string; written: number }>(
      (resolve, reject) => {
        const r = http.request(`${url}/`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
        });
        const chunk = Buffer.alloc(4096, 0x20);
        let written = 0;
        let answered = false;
        r.on('response', (res) => {
          answered = true;
          let body = '';
          res.on('data', (d: Buffer) => {
            body += d.toString();
          });
          res.on('end', () => {
            r.destroy();
            resolve({ status: res.statusCode ?? 0, body, written });
          });
        });
        r.on('error', (e) => {
          if (!answered) reject(e);
        });
        // Never ends the body: only the server's limit can stop this.
        const pump = (): void => {
          while (!answered && written < 64 * 1024 * 1024) {
            written += chunk.length;
            if (!r.write(chunk)) {
              r.once('drain', pump);
              return;
            }
          }
        };
        pump();
      },
    );
    expect(status).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ id: null, error: { code: ERR.INVALID_REQUEST } });
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('a hugely oversized declared body is refused without reading it', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = http.request(`${url}/`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': String(1 << 30) },
      });
      r.on('response', (m) => {
        let body = '';
        m.on('data', (d: Buffer) => {
          body += d.toString();
        });
        m.on('end', () => resolve({ status: m.statusCode ?? 0, body }));
      });
      r.on('error', reject);
      r.flushHeaders();
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: ERR.INVALID_REQUEST } });
  });

  it('Content-Type must be JSON: text/plain, forms and none are 415 with a JSON-RPC error', async () => {
    const body = req('status');
    for (const ct of ['application/json', 'application/json; charset=utf-8', 'application/x+json']) {
      expect((await post(url, body, { 'Content-Type': ct })).status).toBe(200);
    }
    // the types a browser sends cross-origin without a preflight
    for (const ct of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
    ]) {
      const r = await post(url, body, { 'Content-Type': ct });
      expect(r.status).toBe(415);
      expect(errorOf(r.json)).toEqual({
        code: ERR.INVALID_REQUEST,
        message: `unsupported Content-Type ${ct}; use application/json`,
      });
    }
    const none = await raw('POST', '/', {}, body);
    expect(none.status).toBe(415);
    expect(errorOf(JSON.parse(none.body)).message).toBe(
      'no Content-Type; send the request as application/json',
    );
  });

  it('wrong HTTP method is 405, unknown path 404, /ws without upgrade 426', async () => {
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    expect((await fetch(`${url}/rpc`, { method: 'PUT', body: '{}' })).status).toBe(405);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    expect((await fetch(`${url}/health`, { method: 'POST', body: '{}' })).status).toBe(405);
    expect((await fetch(`${url}/ws`)).status).toBe(426);
  });

  it('GET /health, extra routes, a failing route is 500 without details', async () => {
    const h = await fetch(`${url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ ok: true });
    const m = await fetch(`${url}/metrics`);
    expect(await m.text()).toBe('requests 1\n');
    expect(m.headers.get('access-control-allow-origin')).toBeNull();
    const b = await fetch(`${url}/broken`);
    expect(b.status).toBe(500);
    expect(await b.text()).not.toMatch(/secret/);
    expect(t.logs.some((l) => JSON.stringify(l.fields).includes('route secret'))).toBe(true);
  });

  it('CORS off by default: another origin is refused (403, no Access-Control-Allow-Origin), on every path', async () => {
    const evil = { Origin: 'http://evil.example' };
    const json = { 'Content-Type': 'application/json' };
    // the batch a hostile page would send, as a simple request and as a JSON one
    for (const ct of ['text/plain', 'application/json']) {
      const r = await raw('POST', '/', { ...evil, 'Content-Type': ct }, req('echo', { text: 'x' }));
      expect(r.status).toBe(403);
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      expect(JSON.parse(r.body).error).toMatch(
        /cross-origin requests from http:\/\/evil\.example are refused/,
      );
    }
    const pre = await raw('OPTIONS', '/', {
      ...evil,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type',
    });
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect((await raw('GET', '/metrics', evil)).status).toBe(403);
    // a DNS-rebinding page: its own name, pointed at this address, is not this server's origin
    const port = t.server.port;
    const rebound = { Origin: `http://evil.example:${port}`, Host: `evil.example:${port}`, ...json };
    expect((await raw('POST', '/', rebound, req('status'))).status).toBe(403);
    // no Origin (curl, the Node client) and the server's own pages (same origin) are served, without CORS headers
    const plain = await raw('POST', '/', json, req('status'));
    expect(plain.status).toBe(200);
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
    const same = await raw('POST', '/', { Origin: url, ...json }, req('status'));
    expect(same.status).toBe(200);
    expect(same.headers['access-control-allow-origin']).toBeUndefined();
    const sameLocal = { Origin: `http://localhost:${port}`, Host: `localhost:${port}`, ...json };
    expect((await raw('POST', '/', sameLocal, req('status'))).status).toBe(200);
  });

  it('CORS with an allow-list: an allowed origin gets its ACAO and preflight, others are still refused', async () => {
    const allowed = await startTestServer({ corsAllowedOrigins: ['http://localhost:5173'] });
    try {
      const at = (method: string, headers: Record<string, string>, body?: string) =>
        raw(method, '/', headers, body, allowed.server.port);
      const pre = await at('OPTIONS', {
        Origin: 'http://localhost:5173',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      });
      expect(pre.status).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      expect(pre.headers['access-control-allow-methods']).toMatch(/POST/);
      expect(pre.headers['access-control-allow-headers']).toBe('content-type');
      expect(pre.headers.vary).toBe('Origin');
      const r = await at(
        'POST',
        { Origin: 'http://localhost:5173', 'Content-Type': 'application/json' },
        req('echo', { text: 'ok' }),
      );
      expect(r.status).toBe(200);
      expect(r.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      expect(JSON.parse(r.body)).toMatchObject({ result: { text: 'ok' } });
      // still JSON only
      const simple = await at(
        'POST',
        { Origin: 'http://localhost:5173', 'Content-Type': 'text/plain' },
        req('status'),
      );
      expect(simple.status).toBe(415);
      const other = await at(
        'POST',
        { Origin: 'http://localhost:5174', 'Content-Type': 'application/json' },
        req('status'),
      );
      expect(other.status).toBe(403);
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await allowed.server.close();
    }
    expect(
      () => new RpcServer({ port: 0, topics: [], methods: {}, corsAllowedOrigins: ['localhost'] }),
    ).toThrow(/corsAllowedOrigins/);
  });

  it('garbage bytes on the TCP port do not hurt the server', async () => {
    await new Promise<void>((resolve) => {
      const s = net.connect(t.server.port, '127.0.0.1', () => {
        s.write('\x00\x01\x02 not http at all\r\n\r\n');
      });
      s.on('data', () => {});
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
  });

  it('rpc.discover lists methods, descriptions and topics', async () => {
    const res = (await rpc(req('rpc.discover'))) as {
      result: { methods: { name: string }[]; topics: string[] };
    };
    const names = res.result.methods.map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining(['echo', 'block', 'rpc.discover', 'subscribe', 'unsubscribe']),
    );
    expect(res.result.methods.find((m) => m.name === 'block')).toEqual({
      name: 'block',
      description: 'A block by height (1..100).',
    });
    expect(res.result.topics).toEqual(['blocks', 'receipts']);
  });
});

describe('work budgets and batches', () => {
  const works = (units: number[]) =>
    JSON.stringify(units.map((u, i) => ({ jsonrpc: '2.0', id: i, method: 'work', params: { units: u } })));

  it('a batch shares one work budget; entries past it get -32005, the next request has a fresh one', async () => {
    const small = await startTestServer({ maxWorkPerRequest: 100, maxWorkPerCall: 50 });
    try {
      const r = await post(small.server.url, works([49, 49, 0, 0]));
      const out = r.json as { id: number; result?: number; error?: { code: number; message: string } }[];
      // each call costs 1 and may spend what is left, at most maxWorkPerCall - 1 more
      expect(out.map((x) => x.result ?? x.error?.code)).toEqual([49, 49, ERR.LIMIT, ERR.LIMIT]);
      expect(out[2]!.error!.message).toMatch(/work budget \(100 units\) is spent/);
      const before = small.server.stats().work;
      expect(before).toBe(100);
      // a fresh request has a fresh budget; one call never more than its own limit
      expect((await post(small.server.url, works([5, 60]))).json).toEqual([
        { jsonrpc: '2.0', id: 0, result: 49 },
        { jsonrpc: '2.0', id: 1, error: { code: ERR.LIMIT, message: 'needs 60 units, has 49' } },
      ]);
      expect(small.server.stats().work).toBe(before + 7);
      const discover = (await post(small.server.url, req('rpc.discover'))).json as {
        result: { limits: Record<string, number> };
      };
      expect(discover.result.limits).toMatchObject({ maxWorkPerRequest: 100, maxWorkPerCall: 50 });
    } finally {
      await small.server.close();
    }
  });

  it('each batch entry starts on its own turn of the event loop (timers and I/O run between them)', async () => {
    t.notes.length = 0;
    let ticking = true;
    const tick = (): void => {
      if (!ticking) return;
      t.notes.push('tick');
      setImmediate(tick);
    };
    setImmediate(tick);
    const batch = JSON.stringify(
      Array.from({ length: 6 }, (_, i) => ({ jsonrpc: '2.0', method: 'note', params: { text: `call${i}` } })),
    );
    try {
      expect((await post(url, batch)).status).toBe(204);
    } finally {
      ticking = false;
    }
    const calls = t.notes.filter((n) => n !== 'tick');
    expect(calls).toEqual(['call0', 'call1', 'call2', 'call3', 'call4', 'call5']);
    const first = t.notes.indexOf('call0');
    const between = t.notes.slice(first, t.notes.indexOf('call5') + 1);
    // never two calls in a row: something else ran between each pair
    for (let i = 1; i < between.length; i++)
      expect(between[i] !== 'tick' && between[i - 1] !== 'tick').toBe(false);
  });
});

describe('construction', () => {
  it('refuses reserved method names, bad topics and bad limits', () => {
    const base = { port: 0, topics: [], methods: {} };
    const m = { description: '', params: () => undefined, handler: () => 1 };
    expect(() => new RpcServer({ ...base, methods: { 'rpc.x': m } })).toThrow(/reserved/);
    expect(() => new RpcServer({ ...base, methods: { subscribe: m } })).toThrow(/reserved/);
    expect(() => new RpcServer({ ...base, topics: ['a', 'a'] })).toThrow(/duplicate/);
    expect(() => new RpcServer({ ...base, maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => new RpcServer({ ...base, routes: { '/rpc': () => {} } })).toThrow(/route/);
  });

  it('start rejects when the port is taken', async () => {
    const other = new RpcServer({ port: t.server.port, topics: [], methods: {} });
    await expect(other.start()).rejects.toThrow(/EADDRINUSE/);
    await other.close();
  });
});

describe('after all the bad input', () => {
  it('the server still answers a good request and counted the errors', async () => {
    expect(await rpc(req('echo', { text: 'alive' }))).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: { text: 'alive' },
    });
    const s = t.server.stats();
    expect(s.requests).toBeGreaterThan(100);
    expect(s.errors).toBeGreaterThan(30);
    expect(s.errors).toBeLessThan(s.requests);
  });
});
