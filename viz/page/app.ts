/**
 * The visualiser page: connects to its feeds, keeps the merged model, and redraws what changed
 * once per animation frame (batches may carry thousands of events; the DOM is touched per frame,
 * not per message).
 */
import type { ClientMessage, FeedEvent } from '../protocol.ts';
import { ChartView } from './chart-view.ts';
import { ConsensusView } from './consensus-view.ts';
import { Header } from './controls.ts';
import { FeedConnection, type FeedHandlers, feedUrls } from './feed.ts';
import { Filters } from './filters.ts';
import { GraphView } from './graph-view.ts';
import { IntentsView } from './intents-view.ts';
import { type Changes, Model } from './model.ts';
import { SpacetimeView } from './spacetime-view.ts';
import { byId } from './svg.ts';

/** events waiting for the next frame at most (the model keeps its own copy of the newest) */
const PENDING_CAP = 5000;
const FILTER_DEBOUNCE_MS = 250;

const model = new Model();
const main = document.querySelector('main')!;
const dirty: Changes & { feeds: boolean } = {
  structure: true,
  status: true,
  events: false,
  header: true,
  feeds: true,
};
let pending: FeedEvent[] = [];
let frame = 0;

function schedule(): void {
  if (frame === 0) frame = requestAnimationFrame(render);
}

function send(msg: ClientMessage, to: 'all' | 'control' | 'load'): void {
  if (to === 'all') {
    for (const f of model.feeds) f.send(msg);
    return;
  }
  const target =
    model.controlFeed ??
    (to === 'load' ? (model.feeds.find((f) => f.state === 'open') ?? model.feeds[0]) : undefined);
  if (target === undefined || !target.send(msg)) header.showError('not connected to a feed that takes this');
}

const header = new Header(model, send);
const graph = new GraphView(byId('graphs', HTMLElement), model, (node, engine) => chart.select(node, engine));
const chart = new ChartView(
  model,
  {
    node: byId('chart-node', HTMLSelectElement),
    engine: byId('chart-engine', HTMLSelectElement),
    chart: byId('chart', HTMLElement),
    log: byId('chart-log', HTMLOListElement),
    current: byId('chart-state', HTMLElement),
    fit: byId('chart-fit', HTMLButtonElement),
    parts: byId('chart-parts', HTMLElement),
  },
  (node, engine) => {
    graph.select(node, engine);
    schedule();
  },
);
const consensus = new ConsensusView(
  model,
  byId('consensus', HTMLTableElement),
  byId('commits', HTMLTableElement),
);
const intents = new IntentsView(model, byId('intents-panel', HTMLElement), byId('intents', HTMLElement));

let filterTimer: ReturnType<typeof setTimeout> | undefined;
const filters = new Filters(byId('filters', HTMLElement), () => {
  spacetime.invalidate();
  schedule();
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => send(filters.message(), 'all'), FILTER_DEBOUNCE_MS);
});
const spacetime = new SpacetimeView(model, filters, {
  scroll: byId('spacetime', HTMLElement),
  count: byId('spacetime-count', HTMLElement),
  follow: byId('spacetime-follow', HTMLButtonElement),
});

function render(now: number): void {
  frame = 0;
  if (dirty.structure) {
    // the graphs' column: as wide as their layouts want at a readable scale, within bounds
    const widest = Math.max(0, ...[...model.graphs.values()].map((g) => g.width));
    const target = widest * (model.nodes.length <= 2 ? 0.6 : 0.45) + 110;
    main.style.setProperty('--graphs-width', `${Math.round(target)}px`);
    filters.sync(model);
    graph.rebuild();
    chart.rebuild();
    consensus.rebuild();
    spacetime.invalidate();
  }
  if (dirty.status || dirty.feeds) {
    graph.update();
    chart.onStatus();
    consensus.update();
    intents.update();
  }
  if (dirty.events) {
    filters.sync(model);
    graph.onEvents(pending);
    chart.onEvents(pending);
    pending = [];
  }
  if (dirty.header || dirty.status) header.update();
  if (dirty.feeds) {
    header.updateFeeds(model.feeds);
    spacetime.invalidate();
  }
  dirty.structure = dirty.status = dirty.events = dirty.header = dirty.feeds = false;
  const more = [graph.tick(now), chart.render(now), spacetime.render(now)].some(Boolean);
  if (more) schedule();
}

const handlers: FeedHandlers = {
  message(feed, msg) {
    const changed = model.apply(feed, msg);
    if (msg.type === 'batch') {
      for (const e of msg.events) pending.push(e);
      if (pending.length > PENDING_CAP) pending.splice(0, pending.length - PENDING_CAP);
    } else if (msg.type === 'reset') {
      pending = [];
      chart.clearEvents();
    } else if (msg.type === 'hello') {
      // what this feed sent before is void (the model dropped it too)
      pending = pending.filter((e) => model.owner.get(e.node) !== feed);
    }
    dirty.structure ||= changed.structure;
    dirty.status ||= changed.status;
    dirty.events ||= changed.events;
    dirty.header ||= changed.header;
    schedule();
  },
  state() {
    dirty.feeds = true;
    schedule();
  },
};

model.feeds.push(...feedUrls(location).map((url, i) => new FeedConnection(url, i, handlers)));
for (const f of model.feeds) f.connect();
// the header's time-outs (errors, the "recently summarised" light, retry countdowns)
setInterval(() => {
  header.update();
  header.updateFeeds(model.feeds);
}, 1000);
schedule();
