/**
 * The visualiser hub: one source (simulation, live node or trace), any number of pages on
 * WebSockets. Every `flushMs` of wall time it lets the source advance, then sends each page a
 * batch of the events its filter admits (at most `budget` per second; the rest summarised) and
 * the status of every engine. A page whose socket is backed up gets its events summarised too:
 * the feed never falls behind without saying so.
 */
import type { RawData, WebSocket } from 'ws';
import { allStatecharts } from './export.ts';
import { FilterError, PageStream, parseFilter } from './feed.ts';
import { layoutChart, layoutGraph } from './layout.ts';
import type {
  ChartLayout,
  ClientMessage,
  FeedEvent,
  FeedMessage,
  GraphLayout,
  Hello,
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
  /** Accept `load` (a trace file from the page). Default true; a live node says no. */
  allowLoad?: boolean;
  log?: (msg: string) => void;
}

interface Page {
  ws: WebSocket;
  stream: PageStream;
  /** the hello has been sent: batches may follow */
  ready: boolean;
}

/** Largest message a page may send (a trace file to load). */
export const MAX_PAGE_MESSAGE_BYTES = 256 * 1024 * 1024;

export class VizHub {
  private source: VizSource;
  private readonly pages = new Set<Page>();
  private unlisten: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private readonly budget: number;
  private readonly flushMs: number;
  private readonly maxBuffered: number;
  private readonly statecharts = new Map<string, Statechart>();
  private readonly charts = new Map<string, Promise<ChartLayout | undefined>>();
  private readonly graphs = new Map<string, Promise<GraphLayout>>();
  /** inspection events the source produced while someone watched */
  produced = 0;

  constructor(
    source: VizSource,
    private readonly o: HubOptions = {},
  ) {
    this.source = source;
    this.budget = o.budget ?? 5000;
    this.flushMs = o.flushMs ?? 100;
    this.maxBuffered = o.maxBufferedBytes ?? 4 * 1024 * 1024;
    for (const c of allStatecharts()) this.statecharts.set(c.engine, c);
    this.watchResets(source);
  }

  get current(): VizSource {
    return this.source;
  }

  get pageCount(): number {
    return this.pages.size;
  }

  private watchResets(source: VizSource): void {
    source.onReset((reason) => {
      if (source === this.source) this.resetPages(reason);
    });
  }

  /** Starts the flush timer. */
  start(): void {
    if (this.timer !== undefined) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.flushMs);
    this.timer.unref();
  }

  /** One flush: the source advances by the wall time elapsed, then every page gets its batch and status. */
  tick(): void {
    const now = performance.now();
    const elapsed = Math.min(now - this.lastTick, 1000);
    this.lastTick = now;
    // nobody watching: a simulation waits instead of running ahead unseen
    if (this.pages.size === 0) return;
    try {
      this.source.tick(elapsed);
    } catch (e) {
      this.broadcast({ type: 'error', message: `the source failed: ${(e as Error).message}` });
    }
    this.flush();
  }

  /** Sends every ready page its batch and the current status. */
  flush(): void {
    if (this.pages.size === 0) return;
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
            produced: this.produced,
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
    const page: Page = { ws, stream: new PageStream(this.perBatch()), ready: false };
    this.pages.add(page);
    this.listen();
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(page, data, isBinary));
    ws.on('close', () => {
      this.pages.delete(page);
      this.unlistenIfIdle();
    });
    ws.on('error', () => ws.terminate());
    void this.greet(page);
  }

  private async greet(page: Page): Promise<void> {
    try {
      const hello = await this.hello();
      this.send(page, hello);
      page.ready = true;
      this.flush();
    } catch (e) {
      this.o.log?.(`viz: could not build the hello: ${(e as Error).message}`);
      this.send(page, {
        type: 'error',
        message: `the feed could not describe itself: ${(e as Error).message}`,
      });
    }
  }

  private chart(definition: string): Promise<ChartLayout | undefined> {
    let p = this.charts.get(definition);
    if (p === undefined) {
      const chart = this.statecharts.get(definition);
      p = chart === undefined ? Promise.resolve(undefined) : layoutChart(chart);
      this.charts.set(definition, p);
    }
    return p;
  }

  private graph(info: NodeInfo): Promise<GraphLayout> {
    const key = JSON.stringify(info);
    let p = this.graphs.get(key);
    if (p === undefined) {
      p = layoutGraph(info);
      this.graphs.set(key, p);
    }
    return p;
  }

  /** What the source shows, with its graphs and statecharts laid out. */
  async hello(): Promise<Hello> {
    const source = this.source;
    const nodes = source.nodes();
    const definitions = [...new Set(nodes.flatMap((n) => n.engines.map((e) => e.definition)))];
    const charts = (await Promise.all(definitions.map((d) => this.chart(d)))).filter(
      (c): c is ChartLayout => c !== undefined,
    );
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

  private resetPages(reason: string): void {
    for (const page of this.pages) {
      page.ready = false;
      page.stream = new PageStream(this.perBatch());
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
        case 'load': {
          if (this.o.allowLoad === false) {
            return 'this feed cannot load traces: open one with `fractal viz open FILE`';
          }
          if (typeof m.text !== 'string') return 'load: text must be the trace file as a string';
          const name = typeof m.name === 'string' ? m.name.slice(0, 200) : 'trace';
          const trace = parseTrace(m.text);
          this.setSource(new TraceSource(trace, { name }), `loaded trace ${name}`);
          return undefined;
        }
        default:
          return `unknown message type ${JSON.stringify((m as { type: unknown }).type)}`;
      }
    } catch (e) {
      if (e instanceof FilterError || e instanceof ControlError || e instanceof TraceError) return e.message;
      this.o.log?.(`viz: a page message failed: ${(e as Error).message}`);
      return `failed: ${(e as Error).message}`;
    }
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const page of this.pages) page.ws.close(1001, 'feed closing');
    this.pages.clear();
    this.unlisten?.();
    this.unlisten = undefined;
    this.source.close();
  }
}
