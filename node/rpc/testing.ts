/** Test-only helpers: a server with sample methods, raw HTTP posts, a raw WebSocket that records messages. */
import { WebSocket } from 'ws';
import { ERR, RpcError } from './errors.ts';
import { bytesToHex } from './json.ts';
import { p } from './params.ts';
import { method, type RpcLogLevel, type RpcMethod, RpcServer, type RpcServerOptions } from './server.ts';

export interface LogEntry {
  level: RpcLogLevel;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

export interface TestServer {
  server: RpcServer;
  logs: LogEntry[];
  /** Calls of the `note` method (used as a notification target). */
  notes: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An explicitly typed method: checks that `RpcMethod<P, R>` fits `RpcMethods`. */
const block: RpcMethod<{ height: bigint }, { height: string; hash: string }> = {
  description: 'A block by height (1..100).',
  params: p.object({ height: p.u64() }),
  handler: ({ height }) => {
    if (height === 0n || height > 100n) {
      throw new RpcError(ERR.NOT_FOUND, `no block at height ${height}`, { height: height.toString() });
    }
    return { height: height.toString(), hash: bytesToHex(new Uint8Array(32).fill(Number(height))) };
  },
};

export async function startTestServer(overrides: Partial<RpcServerOptions> = {}): Promise<TestServer> {
  const logs: LogEntry[] = [];
  const notes: string[] = [];
  const gates = new Map<string, { promise: Promise<void>; open: () => void }>();
  const gate = (key: string): { promise: Promise<void>; open: () => void } => {
    let g = gates.get(key);
    if (g === undefined) {
      let open = (): void => {};
      const promise = new Promise<void>((r) => {
        open = r;
      });
      g = { promise, open };
      gates.set(key, g);
    }
    return g;
  };
  const server = new RpcServer({
    port: 0,
    topics: ['blocks', 'receipts'],
    maxBodyBytes: 64 * 1024,
    methods: {
      block,
      echo: method({
        description: 'Echoes text, count times.',
        params: p.object({ text: p.string({ max: 100 }), count: p.optional(p.int({ min: 0, max: 10 })) }),
        handler: ({ text, count }) => ({ text: text.repeat(count ?? 1) }),
      }),
      hash: method({
        description: 'Echoes a 32-byte hash.',
        params: p.object({ hash: p.hex({ bytes: 32 }) }),
        handler: ({ hash }) => bytesToHex(hash),
      }),
      blob: method({
        description: 'Length of up to 16 bytes.',
        params: p.object({ data: p.hex({ maxBytes: 16 }) }),
        handler: ({ data }) => data.length,
      }),
      flags: method({
        description: 'Booleans, enums and arrays.',
        params: p.object({
          on: p.bool(),
          mode: p.string({ enum: ['fast', 'safe'] }),
          ids: p.optional(p.array(p.int({ min: 0 }), { max: 3 })),
        }),
        handler: ({ on, mode, ids }) => ({ on, mode, ids: ids ?? [] }),
      }),
      status: method({ description: 'No params.', params: p.none(), handler: () => ({ ok: true }) }),
      note: method({
        description: 'Records a note (a notification target).',
        params: p.object({ text: p.string() }),
        handler: ({ text }) => {
          notes.push(text);
        },
      }),
      slow: method({
        description: 'Answers after ms milliseconds.',
        params: p.object({ ms: p.int({ min: 0, max: 1000 }), value: p.string() }),
        handler: async ({ ms, value }) => {
          await sleep(ms);
          return value;
        },
      }),
      wait: method({
        description: 'Waits until another request opens the gate named key.',
        params: p.object({ key: p.string() }),
        handler: async ({ key }) => {
          await gate(key).promise;
          return `${key} opened`;
        },
      }),
      open: method({
        description: 'Opens the gate named key.',
        params: p.object({ key: p.string() }),
        handler: ({ key }) => {
          gate(key).open();
          return true;
        },
      }),
      boom: method({
        description: 'Throws a plain Error.',
        params: p.none(),
        handler: () => {
          throw new Error('secret detail: db path /var/x');
        },
      }),
      rejects: method({
        description: 'Returns a rejected promise.',
        params: p.none(),
        handler: async () => {
          await sleep(1);
          throw new TypeError('async secret');
        },
      }),
      refuse: method({
        description: 'Throws an application RpcError.',
        params: p.none(),
        handler: () => {
          throw new RpcError(ERR.REJECTED, 'transaction rejected', { reason: 'fee too low' });
        },
      }),
      work: method({
        description: 'Spends units of work if its budget allows; returns the budget it had.',
        params: p.object({ units: p.int({ min: 0, max: 1_000_000 }) }),
        handler: ({ units }, call) => {
          if (units > call.budget) throw new RpcError(ERR.LIMIT, `needs ${units} units, has ${call.budget}`);
          call.spend(units);
          return call.budget;
        },
      }),
      bigint: method({
        description: 'Returns a bigint (not JSON-safe).',
        params: p.none(),
        handler: () => ({ big: 1n }),
      }),
    },
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
    ...overrides,
  });
  await server.start();
  return { server, logs, notes };
}

export interface PostResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed body, or undefined when empty / not JSON. */
  json: unknown;
}

/** POSTs a raw body to the server. */
export async function post(
  url: string,
  body: string | Uint8Array,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
): Promise<PostResult> {
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A raw WebSocket client that keeps every message and lets a test await the next matching one. */
export class RawWs {
  readonly messages: unknown[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { pred: (m: unknown) => boolean; resolve: (m: unknown) => void }[] = [];
  private seen = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      let m: unknown;
      try {
        m = JSON.parse(data.toString());
      } catch {
        m = { unparsable: data.toString() };
      }
      this.messages.push(m);
      for (const w of [...this.waiters]) {
        if (w.pred(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  static async open(url: string): Promise<RawWs> {
    const ws = new WebSocket(url);
    const raw = new RawWs(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return raw;
  }

  /** The first message (not yet returned by `next`) matching `pred`, waiting if needed. */
  next(pred: (m: unknown) => boolean = () => true, timeoutMs = 5000): Promise<unknown> {
    for (let i = this.seen; i < this.messages.length; i++) {
      const m = this.messages[i];
      if (pred(m)) {
        this.seen = i + 1;
        return Promise.resolve(m);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`RawWs: no matching message in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          this.seen = this.messages.length;
          resolve(m);
        },
      });
    });
  }

  /** Sends a request with this id and waits for its response. */
  async request(id: number, method: string, params?: unknown): Promise<Record<string, unknown>> {
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return (await this.next((m) => isObj(m) && m.id === id)) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.closed;
  }
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Polls `cond` every 5 ms until it holds (or fails after `timeoutMs`). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor: condition not met in time');
    await sleep(5);
  }
}
