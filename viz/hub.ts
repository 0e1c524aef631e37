/**
 * The visualiser hub: one source (simulation, live node or trace), any number of pages on
 * WebSockets. Every `flushMs` of wall time it lets the source advance, then sends each page a
 * batch of the events its filter admits (at most `budget` per second; the rest summarised) and
 * the status of every engine. A page whose socket is backed up gets its events summarised too:
 * the feed never falls behind without saying so. A simulation or trace advances only while some
 * page has its hello, so nothing is produced that no page could be told about.
 */
import type { RawData, WebSocket } from 'ws';
import { FilterError, PageStream, parseFilter } from './feed.ts';
import type {
  ChartLayout,
  ClientMessage,
  FeedEvent,
  FeedMessage,
  GraphLayout,
  Hello,
  LoadMessage,
  NodeInfo,
  Status,
} from './protocol.ts';
import { ControlError, type VizSource } from './source.ts';
import type { Statechart } from './statechart.ts';
import { parseTrace, TraceError, TraceSource } from './trace.ts';

export interface HubOptions {
  /** Events per second streamed to one page before the rest are summarised. Default 5000. */
  budget?: number;
  /** Wall ms between batches. Default 100. */
  flushMs?: number;
  /** A page whose socket has more than this queued gets summaries instead of events. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Accept `load` (a trace file from the page; it replaces the feed for every page). Default true; a live node says no. */
  allowLoad?: boolean;
  /** Pages at once; more are refused (close code 1013). Default 16. */
  maxPages?: number;
  /** Ping period; a page that missed the previous pong is dropped. 0 = off. Default 30 s. */
  pingIntervalMs?: number;
  log?: (msg: string) => void;
}

interface Page {
  ws: WebSocket;
  stream: PageStream;
  /** the hello has been sent: batches may follow */
  ready: boolean;
  /** bumped by every reset: a hello built for an earlier greeting is not sent */
  greeting: number;
  /** `hub.produced` when this page got its hello: its share of what was produced */
  producedAtHello: number;
  alive: boolean;
}

/** Largest message a page may send when loading traces is allowed (a trace file); otherwise 64 KiB. */
export const MAX_TRACE_MESSAGE_BYTES = 256 * 1024 * 1024;
const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;

/** Layouts are computed by elkjs, loaded only when a page first asks (a node nobody watches never loads it). */
const layouts = () => import('./layout.ts');

export class VizHub {
  private source: VizSource;
  private readonly pages = new Set<Page>();
  private unlisten: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private readonly budget: number;
  private readonly flushMs: number;
  private readonly maxBuffered: number;
  private readonly maxPages: number;
  private statecharts: Map<string, Statechart> | undefined;
  private readonly charts = new Map<string, Promise<ChartLayout>>();
  private graphs = new Map<string, Promise<GraphLayout>>();
  /** inspection events the source produced while a page was ready */
  produced = 0;

  constructor(
    source: VizSource,
    private readonly options: HubOptions = {},
  ) {
    this.source = source;
    this.budget = options.budget ?? 5000;
    this.flushMs = options.flushMs ?? 100;
    this.maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.maxPages = options.maxPages ?? 16;
    this.watchResets(source);
  }

  /** The source being shown. */
  get shown(): VizSource {
    return this.source;
  }

  get pageCount(): number {
    return this.pages.size;
  }

  /** Largest message a page may send. */
  get maxMessageBytes(): number {
    return this.options.allowLoad === false ? MAX_CONTROL_MESSAGE_BYTES : MAX_TRACE_MESSAGE_BYTES;
  }

  private watchResets(source: VizSource): void {
    source.onReset((reason) => {
      if (source === this.source) this.resetPages(reason);
    });
  }

  /** Starts the flush timer and the heartbeat. */
  start(): void {
    if (this.timer !== undefined) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.flushMs);
    this.timer.unref();
    const ping = this.options.pingIntervalMs ?? 30_000;
    if (ping > 0) {
      this.pinger = setInterval(() => this.heartbeat(), ping);
      this.pinger.unref();
    }
  }

  /** Drops pages that did not answer the last ping (a half-open socket would keep the feed alive). */
  private heartbeat(): void {
    for (const page of this.pages) {
      if (!page.alive) {
        page.ws.terminate();
        continue;
      }
      page.alive = false;
      page.ws.ping();
    }
  }

  private anyReady(): boolean {
    for (const page of this.pages) if (page.ready) return true;
    return false;
  }

  /** One flush: the source advances by the wall time elapsed, then every page gets its batch and status. */
  tick(): void {
    const now = performance.now();
    const elapsed = Math.min(now - this.lastTick, 1000);
    this.lastTick = now;
    if (!this.anyReady()) return;
    try {
      this.source.tick(elapsed);
    } catch (e) {
      this.broadcast({ type: 'error', message: `the source failed: ${(e as Error).message}` });
    }
    this.flush();
  }

  /** Sends every ready page its batch and the current status. */
  flush(): void {
    if (!this.anyReady()) return;
    const s = this.source.status();
    for (const page of this.pages) {
      if (!page.ready) continue;
      const backedUp = page.ws.bufferedAmount > this.maxBuffered;
      const batch = page.stream.cut(s.time);
      if (batch !== undefined) {
        if (backedUp) page.stream.unsent(batch);
        else this.send(page, batch);
      }
      if (!backedUp) {
        const status: Status = {
          type: 'status',
          ...s,
          stats: {
            produced: this.produced - page.producedAtHello,
            streamed: page.stream.streamed,
            dropped: page.stream.droppedTotal,
          },
        };
        this.send(page, status);
      }
    }
  }

  private send(page: Page, m: FeedMessage): void {
    if (page.ws.readyState !== page.ws.OPEN) return;
    page.ws.send(JSON.stringify(m));
  }

  private broadcast(m: FeedMessage): void {
    for (const page of this.pages) this.send(page, m);
  }

  private perBatch(): number {
    return Math.max(1, Math.round((this.budget * this.flushMs) / 1000));
  }

  private listen(): void {
    if (this.unlisten !== undefined) return;
    this.unlisten = this.source.listen((e: FeedEvent) => {
      this.produced++;
      for (const page of this.pages) if (page.ready) page.stream.offer(e);
    });
  }

  private unlistenIfIdle(): void {
    if (this.pages.size > 0 || this.unlisten === undefined) return;
    this.unlisten();
    this.unlisten = undefined;
  }

  /** Takes a page's WebSocket: says hello, then streams. */
  connect(ws: WebSocket): void {
    if (this.pages.size >= this.maxPages) {
      ws.close(1013, `at most ${this.maxPages} pages at once`);
      return;
    }
    const page: Page = {
      ws,
      stream: new PageStream(this.perBatch()),
      ready: false,
      greeting: 0,
      producedAtHello: 0,
      alive: true,
    };
    this.pages.add(page);
    this.listen();
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(page, data, isBinary));
    ws.on('pong', () => {
      page.alive = true;
    });
    ws.on('close', () => {
      this.pages.delete(page);
      this.unlistenIfIdle();
    });
    ws.on('error', () => ws.terminate());
    void this.greet(page);
  }

  private async greet(page: Page): Promise<void> {
    const greeting = ++page.greeting;
    const source = this.source;
    try {
      const hello = await this.hello(source);
      // a reset or another source while the hello was being built: that greeting will say hello
      if (page.greeting !== greeting || this.source !== source || !this.pages.has(page)) return;
      this.send(page, hello);
      page.ready = true;
      page.producedAtHello = this.produced;
      this.flush();
    } catch (e) {
      this.options.log?.(`viz: could not build the hello: ${(e as Error).message}`);
      this.send(page, {
        type: 'error',
        message: `the feed could not describe itself: ${(e as Error).message}`,
      });
    }
  }

  /** Every known statechart by name (`<engine>`, `<engine>.<part>`), read once. */
  private async known(): Promise<Map<string, Statechart>> {
    if (this.statecharts === undefined) {
      const { allStatecharts } = await import('./export.ts');
      this.statecharts = new Map(allStatecharts().map((c) => [c.engine, c]));
    }
    return this.statecharts;
  }

  private async chart(definition: string): Promise<ChartLayout | undefined> {
    const chart = (await this.known()).get(definition);
    // only the known definitions are cached: a trace cannot grow the cache with made-up names
    if (chart === undefined) return undefined;
    let p = this.charts.get(definition);
    if (p === undefined) {
      p = layouts().then((l) => l.layoutChart(chart));
      this.charts.set(definition, p);
    }
    return p;
  }

  private graph(info: NodeInfo): Promise<GraphLayout> {
    const key = JSON.stringify(info);
    let p = this.graphs.get(key);
    if (p === undefined) {
      p = layouts().then((l) => l.layoutGraph(info));
      this.graphs.set(key, p);
    }
    return p;
  }

  /** What a source shows, with its graphs and statecharts laid out. */
  async hello(source: VizSource = this.source): Promise<Hello> {
    const nodes = source.nodes();
    const definitions = [...new Set(nodes.flatMap((n) => n.engines.map((e) => e.definition)))];
    // and the machines their cores run (consensus: the round machine), shown with them
    const known = await this.known();
    const parts = [...known.values()].filter((c) => c.partOf !== undefined && definitions.includes(c.partOf));
    const charts = (
      await Promise.all([...definitions, ...parts.map((c) => c.engine)].map((d) => this.chart(d)))
    ).filter((c): c is ChartLayout => c !== undefined);
    const graphs = await Promise.all(nodes.map((n) => this.graph(n)));
    return {
      type: 'hello',
      mode: source.mode,
      title: source.title,
      nodes,
      graphs,
      charts,
      controls: source.controls,
      budget: this.budget,
    };
  }

  /** Everything shown so far is void: each page gets a reset, keeps its filter, and is greeted again. */
  private resetPages(reason: string): void {
    for (const page of this.pages) {
      page.ready = false;
      page.stream.clear();
      this.send(page, { type: 'reset', reason });
      void this.greet(page);
    }
  }

  /** Shows another source from now on (a trace loaded from a page). */
  setSource(source: VizSource, reason: string): void {
    const listening = this.unlisten !== undefined;
    this.unlisten?.();
    this.unlisten = undefined;
    this.source.close();
    this.source = source;
    // graphs of the old source are of no more use (charts are per definition, and kept)
    this.graphs = new Map();
    this.watchResets(source);
    if (listening) this.listen();
    this.resetPages(reason);
  }

  private onMessage(page: Page, data: RawData, isBinary: boolean): void {
    const problem = this.handle(page, data, isBinary);
    if (problem !== undefined) this.send(page, { type: 'error', message: problem });
  }

  /** Acts on one message from a page; returns what was wrong with it, if anything. */
  private handle(page: Page, data: RawData, isBinary: boolean): string | undefined {
    if (isBinary) return 'send JSON text messages';
    let m: ClientMessage;
    try {
      m = JSON.parse(data.toString()) as ClientMessage;
    } catch {
      return 'not JSON';
    }
    if (m === null || typeof m !== 'object') return 'a message must be a JSON object';
    try {
      switch (m.type) {
        case 'filter':
          page.stream.setFilter(parseFilter(m));
          return undefined;
        case 'control':
          if (!this.source.controls) return `a ${this.source.mode} feed takes no controls`;
          this.source.control(m);
          this.flush();
          return undefined;
        case 'load':
          return this.load(page, m);
        default:
          return `unknown message type ${JSON.stringify((m as { type: unknown }).type)}`;
      }
    } catch (e) {
      if (e instanceof FilterError || e instanceof ControlError || e instanceof TraceError) return e.message;
      this.options.log?.(`viz: a page message failed: ${(e as Error).message}`);
      return `failed: ${(e as Error).message}`;
    }
  }

  /** A trace from a page: checked, and described, before it replaces what every page shows. */
  private load(page: Page, m: LoadMessage): string | undefined {
    if (this.options.allowLoad === false) {
      return 'this feed cannot load traces: open one with `fractal viz open FILE`';
    }
    if (typeof m.text !== 'string') return 'load: text must be the trace file as a string';
    const name = typeof m.name === 'string' ? m.name.slice(0, 200) : 'trace';
    const source = new TraceSource(parseTrace(m.text), { name });
    this.hello(source).then(
      () => this.setSource(source, `loaded trace ${name}`),
      (e: unknown) =>
        this.send(page, { type: 'error', message: `cannot show trace ${name}: ${(e as Error).message}` }),
    );
    return undefined;
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.pinger !== undefined) clearInterval(this.pinger);
    this.timer = undefined;
    this.pinger = undefined;
    for (const page of this.pages) page.ws.close(1001, 'feed closing');
    this.pages.clear();
    this.unlisten?.();
    this.unlisten = undefined;
    this.source.close();
  }
}
