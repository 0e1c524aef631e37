/**
 * A JSON-RPC 2.0 client for RpcServer: `call` over HTTP (fetch), `subscribe` (and `callWs`) over
 * one shared WebSocket that is opened on first use and closed after the last subscription (or, once
 * `callWs` was used, by `close()`).
 */
import { type RawData, WebSocket } from 'ws';
import { RpcError } from './errors.ts';
import { toJsonSafe } from './json.ts';

/** The request never got a JSON-RPC answer: connection refused, timeout, non-JSON reply, socket closed. */
export class RpcTransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RpcTransportError';
  }
}

export interface RpcClientOptions {
  /** Per request (HTTP and WebSocket). Default 30 s. */
  timeoutMs?: number;
  /** Extra HTTP headers for `call`. */
  headers?: Readonly<Record<string, string>>;
}

export interface RpcSubscription {
  /** The server's subscription id. */
  readonly id: string;
  readonly topic: string;
  /** Unsubscribes (and closes the WebSocket if it was the last subscription). Idempotent. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** The subscription ended without `close()`: the socket closed (code 4001 = lagged, 1001 = server shutdown). */
  onEnd?: (info: { code: number; reason: string }) => void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

interface SubEntry {
  onMessage(payload: unknown): void;
  onEnd: ((info: { code: number; reason: string }) => void) | undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The result of a response to request `id`, or the RpcError it carries. */
function unwrap(msg: unknown, id: number): unknown {
  if (!isPlainObject(msg) || msg.jsonrpc !== '2.0') {
    throw new RpcTransportError('response is not a JSON-RPC 2.0 object');
  }
  if (Object.hasOwn(msg, 'error')) {
    const e = msg.error;
    if (isPlainObject(e) && typeof e.code === 'number' && typeof e.message === 'string') {
      throw new RpcError(e.code, e.message, e.data);
    }
    throw new RpcTransportError('response has a malformed error member');
  }
  if (msg.id !== id)
    throw new RpcTransportError(`response id ${JSON.stringify(msg.id)} does not match ${id}`);
  if (!Object.hasOwn(msg, 'result')) throw new RpcTransportError('response has neither result nor error');
  return msg.result;
}

/** One WebSocket with its pending requests and subscriptions. */
class WsSession {
  readonly ws: WebSocket;
  readonly ready: Promise<void>;
  readonly subs = new Map<string, SubEntry>();
  /** Subscriptions held or being made; the session closes when it drops to 0. */
  users = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly closed: Promise<void>;
  private nextId = 1;

  constructor(
    url: string,
    private readonly timeoutMs: number,
    onClosed: () => void,
  ) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ready = new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new RpcTransportError(`WebSocket ${url} closed before opening`)));
    });
    this.ready.catch(() => {});
    this.ws.on('error', () => {}); // 'close' follows every error
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(data);
    });
    this.closed = new Promise<void>((resolve) => {
      this.ws.once('close', (code, reason) => {
        onClosed();
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new RpcTransportError(`WebSocket closed (${code})`));
        }
        this.pending.clear();
        const info = { code, reason: reason.toString() };
        const subs = [...this.subs.values()];
        this.subs.clear();
        for (const s of subs) s.onEnd?.(info);
        resolve();
      });
    });
  }

  async request(method: string, params: unknown): Promise<unknown> {
    await this.ready;
    if (this.ws.readyState !== WebSocket.OPEN) throw new RpcTransportError('WebSocket is not open');
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcTransportError(`${method}: no response within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close(1000);
    return this.closed;
  }

  private onMessage(data: RawData): void {
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (!isPlainObject(msg)) return;
    if (msg.method === 'subscription' && isPlainObject(msg.params)) {
      const sub = this.subs.get(String(msg.params.subscription));
      if (sub === undefined) return;
      try {
        sub.onMessage(msg.params.result);
      } catch (e) {
        // A throwing callback must not corrupt the socket's state; surface it as an uncaught error.
        queueMicrotask(() => {
          throw e;
        });
      }
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (p === undefined) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    try {
      p.resolve(unwrap(msg, msg.id));
    } catch (e) {
      p.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}

export class RpcClient {
  private readonly httpUrl: string;
  private readonly wsUrl: string;
  private readonly timeoutMs: number;
  private readonly headers: Readonly<Record<string, string>>;
  private nextId = 1;
  private session: WsSession | undefined;
  /** the session `callWs` holds open (a use of it, like a subscription) */
  private caller: WsSession | undefined;

  /** `url` is the server's base URL (`http://host:port`); a path (e.g. `/rpc`) is used for calls as given. */
  constructor(url: string, opts: RpcClientOptions = {}) {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new Error(`RpcClient: expected an http(s) URL, got ${url}`);
    }
    this.httpUrl = u.href;
    this.wsUrl = `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}/ws`;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.headers = opts.headers ?? {};
  }

  /**
   * Calls `method`. `params` may hold bigints and Uint8Arrays (sent as decimal strings and 0x hex).
   * Throws the server's `RpcError`, or `RpcTransportError` when no JSON-RPC answer came back.
   */
  async call<R = unknown>(method: string, params?: unknown): Promise<R> {
    const id = this.nextId++;
    const req: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) req.params = toJsonSafe(params);
    let text: string;
    let status: number;
    try {
      const res = await fetch(this.httpUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...this.headers },
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      throw new RpcTransportError(`${method}: ${messageOf(e)}`, { cause: e });
    }
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      throw new RpcTransportError(`${method}: HTTP ${status} with a non-JSON body`);
    }
    return unwrap(msg, id) as R;
  }

  /**
   * `call` over the client's WebSocket instead of an HTTP request per call: the socket (shared with
   * subscriptions) is opened on first use and kept until `close()`, and each call is one text frame
   * each way, so a client making many calls (a load generator) spends far less per call, and so
   * does the server. Same results and errors as `call`.
   */
  async callWs<R = unknown>(method: string, params?: unknown): Promise<R> {
    const session = this.openSession();
    if (this.caller !== session) {
      this.caller = session;
      session.users++;
    }
    return (await session.request(method, params === undefined ? undefined : toJsonSafe(params))) as R;
  }

  /**
   * Subscribes to `topic`; `onMessage` gets each published payload. Resolves once the server has
   * confirmed (so a publish after that is delivered). Throws `RpcError` (e.g. unknown topic) or
   * `RpcTransportError`.
   */
  async subscribe(
    topic: string,
    onMessage: (payload: unknown) => void,
    opts: SubscribeOptions = {},
  ): Promise<RpcSubscription> {
    const session = this.openSession();
    session.users++;
    let id: string;
    try {
      const res = await session.request('subscribe', [topic]);
      if (typeof res !== 'string') throw new RpcTransportError('subscribe: the result is not a string id');
      id = res;
    } catch (e) {
      this.release(session);
      throw e;
    }
    // Registered in the same tick as the response arrives, before any notification can be read.
    session.subs.set(id, { onMessage, onEnd: opts.onEnd });
    let closing: Promise<void> | undefined;
    const close = async (): Promise<void> => {
      if (!session.subs.delete(id)) return; // already ended with the socket
      try {
        await session.request('unsubscribe', [id]);
      } catch {
        // The socket is going away anyway; the subscription dies with it.
      }
      await this.release(session);
    };
    return {
      id,
      topic,
      close: () => {
        closing ??= close();
        return closing;
      },
    };
  }

  /** Closes the WebSocket (ending every subscription without `onEnd`). */
  async close(): Promise<void> {
    const s = this.session;
    this.caller = undefined;
    if (s === undefined) return;
    this.session = undefined;
    s.subs.clear();
    await s.close();
  }

  private openSession(): WsSession {
    if (this.session === undefined) {
      const s = new WsSession(this.wsUrl, this.timeoutMs, () => {
        if (this.session === s) this.session = undefined;
      });
      this.session = s;
    }
    return this.session;
  }

  private async release(session: WsSession): Promise<void> {
    session.users--;
    if (session.users > 0) return;
    if (this.session === session) this.session = undefined;
    await session.close();
  }
}
