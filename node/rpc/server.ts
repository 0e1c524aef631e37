/**
 * A JSON-RPC 2.0 server over HTTP (POST `/` or `/rpc`) and WebSocket (`/ws`, with topic
 * subscriptions). Generic machinery: the node registers its methods and topics. See README.md.
 */
import http from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { listenOn } from '../listen.ts';
import { ERR, RpcError } from './errors.ts';
import { stringifyStrict } from './json.ts';
import { p } from './params.ts';

/**
 * What a handler knows of the request it serves: the work it may still do. Work is counted in
 * units (a call costs one; a handler that reads rows spends one per row). Every request (an HTTP
 * body or a WebSocket message, a batch included) has `maxWorkPerRequest` units, and one call at
 * most `maxWorkPerCall` of them: a handler bounds its work by `budget` before doing it, then
 * `spend`s what it did. Entries of a batch after the budget is spent get -32005.
 */
export interface RpcCall {
  /** units this call may spend: the least of the per-call limit and what its request has left */
  readonly budget: number;
  /** records `units` of work done (they count against the request's budget) */
  spend(units: number): void;
}

/** A method: a description, a params validator and a handler. Use `method()` to infer `P` from `params`. */
export interface RpcMethod<P = unknown, R = unknown> {
  /** One line for `rpc.discover` and docs. */
  description: string;
  /** Validates the raw `params` member (undefined when absent); throws `RpcError(INVALID_PARAMS)`. */
  params: (raw: unknown) => P;
  /**
   * The work. May be async. The result must be JSON-safe (see `toJsonSafe`); `undefined` is sent
   * as `null`. Throw `RpcError` for an error the caller should see; anything else becomes a
   * generic -32603 and is logged. (Declared as a method so any `RpcMethod<P, R>` fits `RpcMethods`.)
   */
  handler(params: P, call: RpcCall): R | Promise<R>;
}

/** Identity, for type inference: `method({ params: p.object({ h: p.u64() }), handler: ({ h }) => … })`. */
export function method<P, R>(m: RpcMethod<P, R>): RpcMethod<P, R> {
  return m;
}

export type RpcMethods = Readonly<Record<string, RpcMethod>>;

export type RpcLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type RpcLog = (level: RpcLogLevel, msg: string, fields?: Record<string, unknown>) => void;
export type RpcRoute = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;
export type RpcUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface RpcServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 = an ephemeral port (read it back from `server.port` after `start()`). */
  port: number;
  methods: RpcMethods;
  /** Topics clients may subscribe to over `/ws`; `publish` accepts only these. */
  topics: readonly string[];
  /** Largest HTTP body and WebSocket message, in bytes. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Most requests in one batch. Default 100. */
  maxBatch?: number;
  /** Work units one request (a batch included) may spend; see `RpcCall`. Default 20 000. */
  maxWorkPerRequest?: number;
  /** Work units one call may spend. Default 2 000. */
  maxWorkPerCall?: number;
  /**
   * Origins (`scheme://host[:port]`) whose pages may call this server from a browser; `*` allows
   * any. Default none: a request with an `Origin` header from another origin (every cross-origin
   * fetch and WebSocket a browser makes) is refused with 403, and no response carries
   * `Access-Control-Allow-Origin`. Requests without `Origin` (curl, the Node client) and pages this
   * server serves itself (same origin, on an IP or `localhost` host) are not affected.
   */
  corsAllowedOrigins?: readonly string[];
  /** Default 64. */
  maxSubscriptionsPerSocket?: number;
  /**
   * Bytes a WebSocket may have queued for sending. A socket that would exceed it gets a `lagged`
   * notification and is disconnected (close code 4001). Default 8 MiB.
   */
  maxBufferedPerSocket?: number;
  /** Requests being handled at once on one WebSocket; beyond it the socket is read no further until some finish. Default 64. */
  maxInflightPerSocket?: number;
  /** Open WebSockets; further upgrades get 503. Default 1024. */
  maxWebSockets?: number;
  /** TCP connections (HTTP and WebSocket); further ones are dropped. Default 2048. */
  maxConnections?: number;
  /** Time a client has to send a whole HTTP request. Default 30 s. */
  requestTimeoutMs?: number;
  /** Ping period for WebSockets; a socket that missed the previous pong is dropped. 0 = off. Default 30 s. */
  pingIntervalMs?: number;
  /** `close()` waits this long for connections to finish before cutting them. Default 1 s. */
  closeGraceMs?: number;
  /** Extra GET (and HEAD) routes by exact path, e.g. `/metrics`; may override the default `/health`. */
  routes?: Readonly<Record<string, RpcRoute>>;
  /** WebSocket upgrades on other paths than `/ws`, by exact path (e.g. the visualiser's feed). */
  upgrades?: Readonly<Record<string, RpcUpgrade>>;
  log?: RpcLog;
}

export interface RpcStats {
  /** JSON-RPC requests handled (each batch entry, notification and invalid request counts). */
  requests: number;
  /** Of those, the ones that ended in an error. */
  errors: number;
  /** Work units spent by handlers (see `RpcCall`). */
  work: number;
  /** Active subscriptions over all sockets. */
  subscribers: number;
  /** Open WebSockets. */
  sockets: number;
}

/** Close code for a WebSocket dropped because it did not keep up with its notifications. */
export const WS_CLOSE_LAGGED = 4001;

const MiB = 1024 * 1024;
const RPC_PATHS = new Set(['/', '/rpc']);
const WS_PATH = '/ws';
/** After a 413, this many more body bytes are read and discarded before the socket is cut. */
const DRAIN_BYTES = MiB;
const LAG_KILL_MS = 1000;
const BUILTINS = new Set(['rpc.discover', 'subscribe', 'unsubscribe']);
const JSON_TYPE = 'application/json; charset=utf-8';

interface Conn {
  readonly ws: WebSocket;
  readonly subs: Map<string, Sub>;
  inflight: number;
  paused: boolean;
  alive: boolean;
  dropped: boolean;
  killTimer: NodeJS.Timeout | undefined;
  /** Settles on the socket's 'close' event. */
  readonly closed: Promise<void>;
}

interface Sub {
  readonly id: string;
  readonly topic: string;
  readonly conn: Conn;
  removed: boolean;
}

/** Per-message context: the socket (absent over HTTP), what to run once the response is sent, the work budget. */
interface CallCtx {
  readonly conn: Conn | undefined;
  readonly afterSend: (() => void)[];
  /** work units the message has left */
  work: number;
}

interface Resolved {
  params: (raw: unknown) => unknown;
  handler: (params: unknown, call: RpcCall) => unknown;
}

const noLog: RpcLog = () => {};
const utf8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

/**
 * A JSON Content-Type. Required: a browser sends the types of a CORS "simple request" (text/plain,
 * forms, none) cross-origin without asking first, never application/json.
 */
function acceptableType(ct: string): boolean {
  const type = ct.split(';')[0]!.trim().toLowerCase();
  return (
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/json-rpc' ||
    type === 'application/jsonrequest'
  );
}

function errorOf(e: unknown): Record<string, unknown> {
  return e instanceof Error ? { err: e.message, stack: e.stack } : { err: String(e) };
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function u64Id(n: number): string {
  return `0x${n.toString(16)}`;
}

export class RpcServer {
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly methods = new Map<string, RpcMethod>();
  private readonly topicSubs = new Map<string, Set<Sub>>();
  private readonly routes = new Map<string, RpcRoute>();
  private readonly upgrades: ReadonlyMap<string, RpcUpgrade>;
  private readonly conns = new Set<Conn>();
  private readonly log: RpcLog;
  private readonly maxBody: number;
  private readonly maxBatch: number;
  private readonly maxWorkPerRequest: number;
  private readonly maxWorkPerCall: number;
  private readonly corsOrigins: ReadonlySet<string>;
  private readonly maxSubs: number;
  private readonly maxBuffered: number;
  private readonly maxInflight: number;
  private readonly maxSockets: number;
  private readonly pingMs: number;
  private readonly graceMs: number;
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly subscribeParams = p.object({ topic: p.string({ max: 200 }) });
  private readonly unsubscribeParams = p.object({ subscription: p.string({ max: 200 }) });
  private pingTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  private nextSubId = 1;
  private requests = 0;
  private errors = 0;
  private work = 0;

  constructor(o: RpcServerOptions) {
    this.host = o.host ?? '127.0.0.1';
    this.requestedPort = o.port;
    const log = o.log ?? noLog;
    // A throwing logger must not turn a handled failure into an unhandled one.
    this.log = (level, msg, fields) => {
      try {
        log(level, msg, fields);
      } catch {
        // ignored
      }
    };
    this.maxBody = positive('maxBodyBytes', o.maxBodyBytes ?? 4 * MiB);
    this.maxBatch = positive('maxBatch', o.maxBatch ?? 100);
    this.maxWorkPerRequest = positive('maxWorkPerRequest', o.maxWorkPerRequest ?? 20_000);
    this.maxWorkPerCall = Math.min(
      this.maxWorkPerRequest,
      positive('maxWorkPerCall', o.maxWorkPerCall ?? 2_000),
    );
    for (const origin of o.corsAllowedOrigins ?? []) {
      if (origin !== '*' && !/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(origin) && origin !== 'null') {
        throw new Error(
          `RpcServer: corsAllowedOrigins entry ${JSON.stringify(origin)} is not scheme://host[:port] or *`,
        );
      }
    }
    this.corsOrigins = new Set((o.corsAllowedOrigins ?? []).map((x) => x.toLowerCase()));
    this.maxSubs = positive('maxSubscriptionsPerSocket', o.maxSubscriptionsPerSocket ?? 64);
    this.maxBuffered = positive('maxBufferedPerSocket', o.maxBufferedPerSocket ?? 8 * MiB);
    this.maxInflight = positive('maxInflightPerSocket', o.maxInflightPerSocket ?? 64);
    this.maxSockets = positive('maxWebSockets', o.maxWebSockets ?? 1024);
    this.pingMs = o.pingIntervalMs ?? 30_000;
    this.graceMs = o.closeGraceMs ?? 1000;

    for (const [name, m] of Object.entries(o.methods)) {
      if (name === '' || name.startsWith('rpc.') || BUILTINS.has(name)) {
        throw new Error(`RpcServer: method name ${JSON.stringify(name)} is reserved`);
      }
      if (typeof m?.params !== 'function' || typeof m.handler !== 'function') {
        throw new Error(`RpcServer: method ${name} needs params and handler functions`);
      }
      this.methods.set(name, m);
    }
    for (const t of o.topics) {
      if (typeof t !== 'string' || t === '' || this.topicSubs.has(t)) {
        throw new Error(`RpcServer: bad or duplicate topic ${JSON.stringify(t)}`);
      }
      this.topicSubs.set(t, new Set());
    }
    this.routes.set('/health', (_req, res) => {
      sendBody(res, 200, '{"ok":true}');
    });
    this.upgrades = new Map(Object.entries(o.upgrades ?? {}));
    for (const path of this.upgrades.keys()) {
      if (path === WS_PATH || !path.startsWith('/')) {
        throw new Error(`RpcServer: upgrade path ${JSON.stringify(path)} is invalid or taken`);
      }
    }
    for (const [path, route] of Object.entries(o.routes ?? {})) {
      if (!path.startsWith('/') || RPC_PATHS.has(path) || path === WS_PATH) {
        throw new Error(`RpcServer: route path ${JSON.stringify(path)} is invalid or taken`);
      }
      this.routes.set(path, route);
    }

    const requestTimeout = o.requestTimeoutMs ?? 30_000;
    this.http = http.createServer({
      requestTimeout,
      headersTimeout: Math.min(10_000, requestTimeout),
      keepAliveTimeout: 5_000,
    });
    this.http.maxConnections = o.maxConnections ?? 2048;
    this.http.on('request', (req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.maxBody,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss.on('error', (e) => this.log('warn', 'rpc: websocket server error', errorOf(e)));
  }

  /** Listens; rejects with a `ListenError` (naming host, port and cause) if it cannot bind. */
  async start(): Promise<void> {
    if (this.started) throw new Error('RpcServer: already started');
    this.started = true;
    await listenOn(this.http, 'RPC', this.host, this.requestedPort);
    this.http.on('error', (e) => this.log('error', 'rpc: server error', errorOf(e)));
    if (this.pingMs > 0) {
      this.pingTimer = setInterval(() => this.heartbeat(), this.pingMs);
      this.pingTimer.unref();
    }
    this.log('info', 'rpc: listening', { url: this.url, ws: this.wsUrl });
  }

  get port(): number {
    const a = this.http.address();
    return a !== null && typeof a === 'object' ? a.port : this.requestedPort;
  }

  get url(): string {
    let h = this.host;
    if (h === '0.0.0.0') h = '127.0.0.1';
    else if (h === '::') h = '::1';
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}`;
  }

  get wsUrl(): string {
    return `ws${this.url.slice(4)}${WS_PATH}`;
  }

  /**
   * Sends `payload` to every subscriber of `topic`; returns how many got it. An unknown topic
   * throws (a programming error). A payload that is not JSON-safe is logged and dropped, so a
   * bad payload cannot break the publisher only when someone happens to be subscribed.
   */
  publish(topic: string, payload: unknown): number {
    const subs = this.topicSubs.get(topic);
    if (subs === undefined) throw new Error(`RpcServer.publish: unknown topic ${JSON.stringify(topic)}`);
    if (subs.size === 0 || this.closing) return 0;
    let payloadJson: string;
    try {
      payloadJson = stringifyStrict(payload);
    } catch (e) {
      this.log('error', 'rpc: publish payload is not JSON-safe; dropped', { topic, ...errorOf(e) });
      return 0;
    }
    const head = `{"jsonrpc":"2.0","method":"subscription","params":{"topic":${JSON.stringify(topic)},"subscription":`;
    const tail = `,"result":${payloadJson}}}`;
    let n = 0;
    for (const sub of [...subs]) {
      if (this.send(sub.conn, `${head}${JSON.stringify(sub.id)}${tail}`)) n++;
    }
    return n;
  }

  stats(): RpcStats {
    let subscribers = 0;
    for (const s of this.topicSubs.values()) subscribers += s.size;
    return {
      requests: this.requests,
      errors: this.errors,
      work: this.work,
      subscribers,
      sockets: this.conns.size,
    };
  }

  /** Stops accepting, closes WebSockets (code 1001) and idle HTTP connections, cuts the rest after the grace period. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.pingTimer);
    if (!this.started || !this.http.listening) return;
    for (const conn of this.conns) {
      this.dropSubs(conn);
      conn.ws.close(1001, 'server shutting down');
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
      timer = setTimeout(() => {
        this.http.closeAllConnections();
        for (const conn of this.conns) conn.ws.terminate();
      }, this.graceMs);
    });
    // The HTTP server reports closed once the sockets are; the ws 'close' events may come a tick later.
    await Promise.all([...this.conns].map((c) => c.closed));
    clearTimeout(timer);
    this.wss.close();
    this.log('info', 'rpc: closed');
  }

  // ---------------------------------------------------------------- JSON-RPC dispatch

  /** Handles one message (a request or a batch); the serialised response, or undefined if none is due. */
  private async processText(text: string, ctx: CallCtx): Promise<string | undefined> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.requests++;
      return this.fail(null, new RpcError(ERR.PARSE, 'parse error: invalid JSON'));
    }
    if (!Array.isArray(msg)) return this.processOne(msg, ctx);
    if (msg.length === 0) {
      this.requests++;
      return this.fail(null, new RpcError(ERR.INVALID_REQUEST, 'invalid request: empty batch'));
    }
    if (msg.length > this.maxBatch) {
      this.requests++;
      return this.fail(
        null,
        new RpcError(
          ERR.INVALID_REQUEST,
          `invalid request: batch of ${msg.length} exceeds the limit of ${this.maxBatch}`,
        ),
      );
    }
    // Each entry starts on its own turn of the event loop, so a batch of heavy reads lets timers
    // and I/O (consensus) run between them; async entries still run concurrently.
    const pending: Promise<string | undefined>[] = [];
    for (const [i, m] of msg.entries()) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      pending.push(this.processOne(m, ctx));
    }
    const parts = await Promise.all(pending);
    const out = parts.filter((x): x is string => x !== undefined);
    return out.length === 0 ? undefined : `[${out.join(',')}]`;
  }

  private async processOne(req: unknown, ctx: CallCtx): Promise<string | undefined> {
    this.requests++;
    if (!isPlainObject(req)) {
      return this.fail(null, new RpcError(ERR.INVALID_REQUEST, 'invalid request: expected an object'));
    }
    const hasId = Object.hasOwn(req, 'id');
    const id = req.id;
    if (hasId && id !== null && typeof id !== 'string' && typeof id !== 'number') {
      return this.fail(
        null,
        new RpcError(ERR.INVALID_REQUEST, 'invalid request: "id" must be a string, a number or null'),
      );
    }
    const replyId = hasId ? (id as string | number | null) : null;
    if (req.jsonrpc !== '2.0') {
      return this.fail(
        replyId,
        new RpcError(ERR.INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"'),
      );
    }
    if (typeof req.method !== 'string') {
      return this.fail(
        replyId,
        new RpcError(ERR.INVALID_REQUEST, 'invalid request: "method" must be a string'),
      );
    }
    const params = req.params;
    if (params !== undefined && (typeof params !== 'object' || params === null)) {
      return this.fail(
        replyId,
        new RpcError(ERR.INVALID_REQUEST, 'invalid request: "params" must be an array or an object'),
      );
    }
    const name = req.method;
    let result: unknown;
    try {
      const m = this.resolve(name, ctx);
      const parsed = m.params(params);
      result = await m.handler(parsed, this.charge(ctx));
    } catch (e) {
      const err = this.toRpcError(e, name);
      if (!hasId) {
        this.errors++;
        this.log('debug', 'rpc: notification failed', { method: name, code: err.code, err: err.message });
        return undefined;
      }
      return this.fail(replyId, err);
    }
    if (!hasId) return undefined;
    try {
      return `{"jsonrpc":"2.0","id":${JSON.stringify(replyId)},"result":${stringifyStrict(result)}}`;
    } catch (e) {
      this.log('error', 'rpc: result is not JSON-safe', { method: name, ...errorOf(e) });
      return this.fail(replyId, new RpcError(ERR.INTERNAL, 'internal error'));
    }
  }

  /** Charges a call's unit against its message's budget; the call's view of what is left. */
  private charge(ctx: CallCtx): RpcCall {
    if (ctx.work < 1) {
      throw new RpcError(
        ERR.LIMIT,
        `this request's work budget (${this.maxWorkPerRequest} units) is spent; send the remaining calls in another request`,
      );
    }
    ctx.work -= 1;
    this.work += 1;
    const budget = Math.max(0, Math.min(this.maxWorkPerCall - 1, ctx.work));
    return {
      budget,
      spend: (units: number) => {
        const n = Number.isFinite(units) && units > 0 ? Math.ceil(units) : 0;
        ctx.work -= n;
        this.work += n;
      },
    };
  }

  private fail(id: string | number | null, err: RpcError): string {
    this.errors++;
    const idJson = JSON.stringify(id);
    try {
      return `{"jsonrpc":"2.0","id":${idJson},"error":${stringifyStrict(err.toJSON())}}`;
    } catch {
      // `data` was not JSON-safe: send the error without it.
      return `{"jsonrpc":"2.0","id":${idJson},"error":${JSON.stringify({ code: err.code, message: err.message })}}`;
    }
  }

  private toRpcError(e: unknown, method: string): RpcError {
    if (e instanceof RpcError) return e;
    this.log('error', 'rpc: handler failed', { method, ...errorOf(e) });
    return new RpcError(ERR.INTERNAL, 'internal error');
  }

  private resolve(name: string, ctx: CallCtx): Resolved {
    const user = this.methods.get(name);
    if (user !== undefined) {
      return { params: (raw) => user.params(raw), handler: (params, call) => user.handler(params, call) };
    }
    switch (name) {
      case 'rpc.discover':
        return { params: p.none(), handler: () => this.discover() };
      case 'subscribe':
      case 'unsubscribe': {
        const conn = ctx.conn;
        if (conn === undefined) {
          throw new RpcError(ERR.METHOD_NOT_FOUND, `${name} is only available over WebSocket (${WS_PATH})`);
        }
        return name === 'subscribe'
          ? {
              params: this.subscribeParams,
              handler: (ps) => this.subscribe(conn, ctx, ps as { topic: string }),
            }
          : {
              params: this.unsubscribeParams,
              handler: (ps) => this.unsubscribe(conn, (ps as { subscription: string }).subscription),
            };
      }
      default:
        throw new RpcError(ERR.METHOD_NOT_FOUND, `method not found: ${JSON.stringify(name.slice(0, 100))}`);
    }
  }

  private discover(): unknown {
    const methods = [...this.methods].map(([name, m]) => ({ name, description: m.description }));
    methods.push(
      { name: 'rpc.discover', description: 'This list: methods, topics and limits.' },
      {
        name: 'subscribe',
        description: 'WebSocket only. params [topic] or {topic}; result: a subscription id.',
      },
      {
        name: 'unsubscribe',
        description: 'WebSocket only. params [id] or {subscription}; result: true if it existed.',
      },
    );
    return {
      methods,
      topics: [...this.topicSubs.keys()],
      limits: {
        maxBodyBytes: this.maxBody,
        maxBatch: this.maxBatch,
        maxWorkPerRequest: this.maxWorkPerRequest,
        maxWorkPerCall: this.maxWorkPerCall,
        maxSubscriptionsPerSocket: this.maxSubs,
        maxBufferedPerSocket: this.maxBuffered,
      },
    };
  }

  // ---------------------------------------------------------------- subscriptions

  private subscribe(conn: Conn, ctx: CallCtx, ps: { topic: string }): string {
    const subs = this.topicSubs.get(ps.topic);
    if (subs === undefined) {
      throw new RpcError(
        ERR.INVALID_PARAMS,
        `topic: unknown topic ${JSON.stringify(ps.topic)} (topics: ${[...this.topicSubs.keys()].join(', ')})`,
      );
    }
    if (conn.subs.size >= this.maxSubs) {
      throw new RpcError(ERR.LIMIT, `at most ${this.maxSubs} subscriptions per connection`);
    }
    const sub: Sub = { id: u64Id(this.nextSubId++), topic: ps.topic, conn, removed: false };
    conn.subs.set(sub.id, sub);
    // Notifications start once the subscribe response is on the wire, so the id always comes first.
    ctx.afterSend.push(() => {
      if (!sub.removed && !conn.dropped) subs.add(sub);
    });
    return sub.id;
  }

  private unsubscribe(conn: Conn, id: string): boolean {
    const sub = conn.subs.get(id);
    if (sub === undefined) return false;
    sub.removed = true;
    conn.subs.delete(id);
    this.topicSubs.get(sub.topic)?.delete(sub);
    return true;
  }

  private dropSubs(conn: Conn): void {
    for (const sub of conn.subs.values()) {
      sub.removed = true;
      this.topicSubs.get(sub.topic)?.delete(sub);
    }
    conn.subs.clear();
  }

  /** Queues `text` on the socket, unless that would exceed the buffer limit: then the socket is dropped. */
  private send(conn: Conn, text: string): boolean {
    if (conn.dropped || conn.ws.readyState !== WebSocket.OPEN) return false;
    const buffered = conn.ws.bufferedAmount;
    if (buffered > 0 && buffered + Buffer.byteLength(text) > this.maxBuffered) {
      this.lag(conn, buffered);
      return false;
    }
    conn.ws.send(text);
    return true;
  }

  private lag(conn: Conn, buffered: number): void {
    conn.dropped = true;
    const subscriptions = [...conn.subs.keys()];
    this.dropSubs(conn);
    this.log('warn', 'rpc: websocket lagged; dropping it', {
      buffered,
      limit: this.maxBuffered,
      subscriptions,
    });
    conn.ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'lagged',
        params: {
          message: 'too slow reading notifications; disconnecting',
          subscriptions,
          bufferedBytes: buffered,
          limit: this.maxBuffered,
        },
      }),
    );
    conn.ws.close(WS_CLOSE_LAGGED, 'lagged');
    // A reader that is stuck will not finish the close handshake either.
    conn.killTimer = setTimeout(() => conn.ws.terminate(), LAG_KILL_MS);
    conn.killTimer.unref();
  }

  // ---------------------------------------------------------------- WebSocket transport

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const reject = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () =>
        socket.destroy(),
      );
    };
    if (this.originOf(req) === 'refused') {
      this.log('debug', 'rpc: cross-origin websocket refused', {
        origin: String(req.headers.origin).slice(0, 200),
      });
      reject('403 Forbidden');
      return;
    }
    const path = pathOf(req.url);
    if (path !== WS_PATH) {
      const upgrade = this.upgrades.get(path);
      if (upgrade === undefined) reject('404 Not Found');
      else if (this.closing) reject('503 Service Unavailable');
      else upgrade(req, socket, head);
      return;
    }
    if (this.closing) {
      reject('503 Service Unavailable');
      return;
    }
    if (this.conns.size >= this.maxSockets) {
      this.log('warn', 'rpc: websocket limit reached; refusing', { limit: this.maxSockets });
      reject('503 Service Unavailable');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    let onClosed = (): void => {};
    const conn: Conn = {
      closed: new Promise<void>((resolve) => {
        onClosed = resolve;
      }),
      ws,
      subs: new Map(),
      inflight: 0,
      paused: false,
      alive: true,
      dropped: false,
      killTimer: undefined,
    };
    if (this.closing) {
      ws.close(1001, 'server shutting down');
      return;
    }
    this.conns.add(conn);
    ws.on('message', (data, isBinary) => this.onWsMessage(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (e) => this.log('debug', 'rpc: websocket error', errorOf(e)));
    ws.on('close', () => {
      this.dropSubs(conn);
      clearTimeout(conn.killTimer);
      this.conns.delete(conn);
      onClosed();
    });
  }

  private onWsMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    if (conn.dropped) return;
    if (isBinary) {
      this.requests++;
      this.send(
        conn,
        this.fail(
          null,
          new RpcError(ERR.INVALID_REQUEST, 'invalid request: binary messages are not supported'),
        ),
      );
      return;
    }
    let text: string;
    try {
      text = utf8.decode(rawToBuffer(data));
    } catch {
      this.requests++;
      this.send(conn, this.fail(null, new RpcError(ERR.PARSE, 'parse error: not UTF-8')));
      return;
    }
    conn.inflight++;
    if (conn.inflight >= this.maxInflight && !conn.paused) {
      conn.paused = true;
      conn.ws.pause();
    }
    const ctx: CallCtx = { conn, afterSend: [], work: this.maxWorkPerRequest };
    this.processText(text, ctx)
      .then((response) => {
        if (response !== undefined) this.send(conn, response);
        for (const f of ctx.afterSend) f();
      })
      .catch((e) => this.log('error', 'rpc: websocket message failed', errorOf(e)))
      .finally(() => {
        conn.inflight--;
        if (conn.paused && conn.inflight < this.maxInflight) {
          conn.paused = false;
          conn.ws.resume();
        }
      });
  }

  private heartbeat(): void {
    for (const conn of this.conns) {
      if (!conn.alive) {
        this.log('debug', 'rpc: websocket missed a pong; dropping it');
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  // ---------------------------------------------------------------- HTTP transport

  /**
   * Where a request comes from: no `Origin` (not a browser, or a same-origin GET), the server's own
   * origin (a page it serves), an allowed origin, or another one (refused). The own origin counts
   * only on an IP or `localhost` host, so a DNS-rebinding page (its own name pointed at this
   * address) is not taken for it.
   */
  private originOf(req: http.IncomingMessage): 'none' | 'same' | 'allowed' | 'refused' {
    const origin = req.headers.origin;
    if (origin === undefined) return 'none';
    const o = origin.toLowerCase();
    if (this.corsOrigins.has('*') || this.corsOrigins.has(o)) return 'allowed';
    const host = req.headers.host?.toLowerCase();
    if (host !== undefined && (o === `http://${host}` || o === `https://${host}`)) {
      const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
      if (name === 'localhost' || isIP(name) !== 0) return 'same';
    }
    return 'refused';
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      const path = pathOf(req.url);
      const origin = this.originOf(req);
      if (origin === 'refused') {
        httpError(
          res,
          403,
          `cross-origin requests from ${String(req.headers.origin).slice(0, 200)} are refused (the node's rpc.corsAllowedOrigins can allow an origin)`,
        );
        return;
      }
      if (origin === 'allowed') {
        res.setHeader('Access-Control-Allow-Origin', req.headers.origin!);
        res.setHeader('Vary', 'Origin');
      }
      if (req.method === 'OPTIONS') {
        res.writeHead(
          204,
          origin === 'allowed'
            ? {
                'Access-Control-Allow-Methods': 'GET, HEAD, POST, OPTIONS',
                'Access-Control-Allow-Headers':
                  req.headers['access-control-request-headers'] ?? 'Content-Type',
                'Access-Control-Max-Age': '86400',
              }
            : { Allow: 'GET, HEAD, POST, OPTIONS' },
        );
        res.end();
        return;
      }
      if (RPC_PATHS.has(path)) {
        if (req.method === 'POST') this.onPost(req, res);
        else httpError(res, 405, 'use POST', { Allow: 'POST, OPTIONS' });
        return;
      }
      const route = this.routes.get(path);
      if (route !== undefined) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          httpError(res, 405, 'use GET', { Allow: 'GET, HEAD, OPTIONS' });
          return;
        }
        Promise.resolve()
          .then(() => route(req, res))
          .catch((e) => {
            this.log('error', 'rpc: route failed', { path, ...errorOf(e) });
            if (!res.headersSent) httpError(res, 500, 'internal error');
            else res.destroy();
          });
        return;
      }
      if (path === WS_PATH) httpError(res, 426, 'WebSocket upgrade required', { Upgrade: 'websocket' });
      else httpError(res, 404, 'not found');
    } catch (e) {
      this.log('error', 'rpc: request failed', errorOf(e));
      if (!res.headersSent) httpError(res, 500, 'internal error');
      else res.destroy();
    }
  }

  private onPost(req: http.IncomingMessage, res: http.ServerResponse): void {
    const ct = req.headers['content-type'];
    if (ct === undefined || !acceptableType(ct)) {
      this.requests++;
      const body = this.fail(
        null,
        new RpcError(
          ERR.INVALID_REQUEST,
          ct === undefined
            ? 'no Content-Type; send the request as application/json'
            : `unsupported Content-Type ${ct.slice(0, 100)}; use application/json`,
        ),
      );
      req.resume();
      sendBody(res, 415, body);
      return;
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    const tooLarge = (): void => {
      rejected = true;
      chunks.length = 0;
      this.requests++;
      const body = this.fail(
        null,
        new RpcError(ERR.INVALID_REQUEST, `request body exceeds the limit of ${this.maxBody} bytes`),
      );
      // Keep reading (and discarding) a bounded amount so the client gets the 413 rather than a
      // reset; if the declared body is longer than that, close the connection after the response.
      const hopeless = declared > this.maxBody + DRAIN_BYTES;
      sendBody(res, 413, body, hopeless ? { Connection: 'close' } : undefined);
    };
    if (declared > this.maxBody) tooLarge();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (rejected) {
        if (size > this.maxBody + DRAIN_BYTES) req.socket.destroy();
        return;
      }
      if (size > this.maxBody) return tooLarge();
      chunks.push(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (rejected) return;
      let text: string;
      try {
        text = utf8.decode(Buffer.concat(chunks, size));
      } catch {
        this.requests++;
        return sendBody(res, 200, this.fail(null, new RpcError(ERR.PARSE, 'parse error: body is not UTF-8')));
      }
      this.processText(text, { conn: undefined, afterSend: [], work: this.maxWorkPerRequest })
        .then((response) => {
          if (response === undefined) {
            if (!res.writableEnded && !res.destroyed) res.writeHead(204).end();
          } else sendBody(res, 200, response);
        })
        .catch((e) => {
          this.log('error', 'rpc: request failed', errorOf(e));
          if (!res.headersSent) httpError(res, 500, 'internal error');
        });
    });
  }
}

function positive(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`RpcServer: ${name} must be a positive integer`);
  return v;
}

function sendBody(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers?: Record<string, string>,
): void {
  if (res.writableEnded || res.destroyed || res.headersSent) return;
  res.writeHead(status, {
    'Content-Type': JSON_TYPE,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function httpError(
  res: http.ServerResponse,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  sendBody(res, status, JSON.stringify({ error: message }), headers);
}
