/**
 * One WebSocket connection to a feed, kept open: it reconnects with backoff when the feed goes
 * away. Messages are parsed and handed to the page; what the page asked the feed to filter is
 * sent again on every (re)connection.
 */
import type { ClientMessage, FeedMessage, FilterMessage, Hello, Status } from '../protocol.ts';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface FeedHandlers {
  message(feed: FeedConnection, msg: FeedMessage): void;
  state(feed: FeedConnection): void;
}

const MESSAGE_TYPES = new Set(['hello', 'batch', 'status', 'reset', 'error']);

function parse(data: unknown): FeedMessage | null {
  if (typeof data !== 'string') return null;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const type = (v as { type?: unknown }).type;
  return typeof type === 'string' && MESSAGE_TYPES.has(type) ? (v as FeedMessage) : null;
}

const MIN_BACKOFF = 500;
const MAX_BACKOFF = 10_000;

export class FeedConnection {
  state: ConnectionState = 'connecting';
  /** the feed's latest hello (null before the first and after a reset) */
  hello: Hello | null = null;
  /** the feed's latest status */
  status: Status | null = null;
  /** when the connection last opened or closed (ms, wall clock), and how often it reconnected */
  since = Date.now();
  reconnects = 0;
  /** ms until the next attempt while closed */
  retryIn = 0;
  private ws: WebSocket | null = null;
  private backoff = MIN_BACKOFF;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private filter: FilterMessage | null = null;
  private closed = false;

  constructor(
    readonly url: string,
    readonly index: number,
    private readonly handlers: FeedHandlers,
  ) {}

  connect(): void {
    if (this.closed) return;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      this.backoff = MIN_BACKOFF;
      this.setState('open');
      if (this.filter !== null) ws.send(JSON.stringify(this.filter));
    });
    ws.addEventListener('message', (ev: MessageEvent<unknown>) => {
      if (this.ws !== ws) return;
      const msg = parse(ev.data);
      if (msg === null) {
        console.warn(`feed ${this.url}: ignored a malformed message`);
        return;
      }
      this.handlers.message(this, msg);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry();
    });
    // an error is always followed by close, which retries
  }

  private retry(): void {
    if (this.closed) return;
    this.retryIn = this.backoff;
    this.setState('closed');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.reconnects++;
      this.connect();
    }, this.backoff);
    this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2);
  }

  private setState(state: ConnectionState): void {
    if (this.state !== state) this.since = Date.now();
    this.state = state;
    this.handlers.state(this);
  }

  /** Sends a message if the connection is open; returns whether it was sent. */
  send(msg: ClientMessage): boolean {
    if (msg.type === 'filter') this.filter = msg;
    if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close();
    this.ws = null;
  }
}

/**
 * The feeds to connect to: `?feeds=<ws url>,<ws url>` (a devnet: one per node process), else
 * `ws` next to the page (`/viz/` → `/viz/ws`) with the page's scheme.
 */
export function feedUrls(location: Location): string[] {
  const param = new URLSearchParams(location.search).get('feeds');
  if (param !== null && param.trim() !== '') {
    return param
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => {
        const url = new URL(s, location.href);
        if (url.protocol === 'http:') url.protocol = 'ws:';
        if (url.protocol === 'https:') url.protocol = 'wss:';
        return url.href;
      });
  }
  const url = new URL('ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return [url.href];
}
