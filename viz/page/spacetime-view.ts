/**
 * The space-time diagram: a lane per node/engine, grouped by node, time flowing down in
 * happened-before order (Lamport time, with the distinct values on screen as rows so it stays
 * compact). A delivery is an arrow from its sender's lane at its send time to its receiver at
 * its receive time; transitions are ticks, crashes and restarts red marks. Only the newest
 * events are drawn; it follows the newest unless scrolled up (then it holds still).
 */
import { eventType, type FeedEvent } from '../protocol.ts';
import type { Filters } from './filters.ts';
import { clip, fmtInt, fmtTime, typeColour } from './format.ts';
import { laneKey, type Model } from './model.ts';
import { arrowMarker, html, setText, svg, svgText, svgTitle } from './svg.ts';

/** events drawn at most */
export const SHOWN = 600;
const ROW = 13;
const GUTTER = 48;
const GROUP_GAP = 12;
const MIN_LANE = 30;
const MAX_LANE = 120;
const TOP = 8;
const RENDER_EVERY_MS = 120;
const LABEL_CHAR = 6.2;

interface Lane {
  key: string;
  node: string;
  engine: string;
  x: number;
}

export interface SpacetimeElements {
  scroll: HTMLElement;
  count: HTMLElement;
  follow: HTMLButtonElement;
}

/** The lane a delivery came from: `engine.port` in the same node, `external:net:<peer>` the same engine there. */
export function senderLane(
  e: Extract<FeedEvent, { kind: 'deliver' }>,
  engines: ReadonlyMap<string, unknown> | undefined,
): string | null {
  if (e.from.startsWith('external:net:')) return laneKey(e.from.slice('external:net:'.length), e.engine);
  if (e.from.startsWith('external:')) return null;
  // the longest engine name that the sender starts with (names may hold dots, ports rarely do)
  let best: string | null = null;
  for (const name of engines?.keys() ?? []) {
    if (e.from.startsWith(`${name}.`) && (best === null || name.length > best.length)) best = name;
  }
  if (best === null) {
    const dot = e.from.lastIndexOf('.');
    best = dot > 0 ? e.from.slice(0, dot) : e.from;
  }
  return laneKey(e.node, best);
}

/** The hover text of an event. */
export function describe(e: FeedEvent): string {
  const head = `${e.kind} ${eventType(e)}\nat ${fmtTime(e.at)} · ${e.node}/${e.engine} · lamport ${e.lamport}`;
  switch (e.kind) {
    case 'deliver':
      return `${head}\nport ${e.port} from ${e.from} (sent at lamport ${e.sent})${e.bytes >= 0 ? ` · ${fmtInt(e.bytes)} bytes` : ''}`;
    case 'transition':
      return `${head}\n${e.from || '(root)'} → ${e.to || '(root)'}`;
    case 'emit':
      return `${head}\nport ${e.port}`;
    case 'timer':
      return `${head}\n${e.op} ${e.name} (deadline ${fmtTime(e.deadline)})`;
    case 'crash':
      return `${head}\n${e.error}`;
    case 'restart':
      return `${head}\nrestart #${e.restarts}`;
    case 'failed':
      return `${head}\n${e.reason}`;
    case 'drop':
      return `${head}\nport ${e.port}: ${e.reason}`;
    default:
      return head;
  }
}

export class SpacetimeView {
  private readonly head: SVGSVGElement;
  private readonly body: SVGSVGElement;
  private follow = true;
  private dirty = true;
  private shownSeq = -1;
  private shownEpoch = -1;
  private shownFilters = -1;
  private lastRender = 0;
  private width = 0;
  private scrolling = false;

  constructor(
    private readonly model: Model,
    private readonly filters: Filters,
    private readonly el: SpacetimeElements,
  ) {
    const headBox = html('div', { class: 'st-head' }, el.scroll);
    this.head = svg('svg', { class: 'st-head-svg' }, headBox);
    this.body = svg('svg', { class: 'st-body' }, el.scroll);
    el.scroll.addEventListener('scroll', () => {
      if (this.scrolling) return;
      const s = el.scroll;
      const atEnd = s.scrollTop + s.clientHeight >= s.scrollHeight - 24;
      if (atEnd !== this.follow) {
        this.follow = atEnd;
        this.updateFollow();
        if (atEnd) this.dirty = true;
      }
    });
    el.follow.addEventListener('click', () => {
      this.follow = true;
      this.dirty = true;
      this.updateFollow();
      this.render(performance.now(), true);
    });
    new ResizeObserver(() => {
      if (el.scroll.clientWidth !== this.width) this.dirty = true;
    }).observe(el.scroll);
    this.updateFollow();
  }

  /** Marks the drawing stale (structure, filters); new events are noticed by themselves. */
  invalidate(): void {
    this.dirty = true;
  }

  private updateFollow(): void {
    this.el.follow.hidden = this.follow;
    const fresh = this.model.eventSeq - Math.max(0, this.shownSeq);
    setText(this.el.follow, fresh > 0 ? `↓ newest (${fmtInt(fresh)} new)` : '↓ newest');
  }

  /** Redraws when something changed (at most every RENDER_EVERY_MS); returns whether it still has to. */
  render(now: number, force = false): boolean {
    const stale =
      this.dirty ||
      this.shownEpoch !== this.model.epoch ||
      this.shownFilters !== this.filters.version ||
      (this.follow && this.shownSeq !== this.model.eventSeq);
    if (!stale) {
      if (!this.follow) this.updateFollow();
      return false;
    }
    if (!force && now - this.lastRender < RENDER_EVERY_MS) return true;
    this.lastRender = now;
    this.dirty = false;
    this.shownEpoch = this.model.epoch;
    this.shownFilters = this.filters.version;
    this.shownSeq = this.model.eventSeq;
    this.draw();
    this.updateFollow();
    return false;
  }

  private lanes(): { lanes: Lane[]; groups: { node: string; x0: number; x1: number }[]; laneW: number } {
    const visible: { node: string; engines: string[] }[] = [];
    for (const n of this.model.nodes) {
      const engines = n.engines.map((e) => e.name).filter((e) => this.filters.laneVisible(n.node, e));
      if (engines.length > 0) visible.push({ node: n.node, engines });
    }
    const count = visible.reduce((s, g) => s + g.engines.length, 0);
    const avail = this.width - GUTTER - 10 - GROUP_GAP * Math.max(0, visible.length - 1);
    const laneW = Math.max(MIN_LANE, Math.min(MAX_LANE, count === 0 ? MAX_LANE : avail / count));
    const lanes: Lane[] = [];
    const groups: { node: string; x0: number; x1: number }[] = [];
    let x = GUTTER;
    for (const g of visible) {
      const x0 = x;
      for (const engine of g.engines) {
        lanes.push({ key: laneKey(g.node, engine), node: g.node, engine, x: x + laneW / 2 });
        x += laneW;
      }
      groups.push({ node: g.node, x0, x1: x });
      x += GROUP_GAP;
    }
    return { lanes, groups, laneW };
  }

  private draw(): void {
    this.width = this.el.scroll.clientWidth;
    const { lanes, groups, laneW } = this.lanes();
    const laneX = new Map(lanes.map((l) => [l.key, l.x]));
    const totalW = Math.max(this.width, (groups.at(-1)?.x1 ?? GUTTER) + 8);

    // the newest events that pass the filters and have a lane
    const shown: FeedEvent[] = [];
    const events = this.model.events;
    for (let i = events.length - 1; i >= 0 && shown.length < SHOWN; i--) {
      const e = events[i]!;
      if (this.filters.accepts(e) && laneX.has(laneKey(e.node, e.engine))) shown.push(e);
    }
    shown.reverse();
    setText(this.el.count, `${shown.length} shown`);
    this.el.count.setAttribute('data-count', String(shown.length));
    this.el.count.title = `the newest ${SHOWN} events that pass the filters are drawn (of ${fmtInt(events.length)} kept)`;

    // rows: the distinct Lamport times on screen, senders' times included
    const senders = new Map<FeedEvent, string>();
    const times = new Set<number>();
    for (const e of shown) {
      times.add(e.lamport);
      if (e.kind === 'deliver' && e.sent > 0) {
        const from = senderLane(e, this.model.engines.get(e.node));
        if (from !== null && laneX.has(from)) {
          senders.set(e, from);
          times.add(e.sent);
        }
      }
    }
    const sorted = [...times].sort((a, b) => a - b);
    const row = new Map(sorted.map((t, i) => [t, i]));
    const yOf = (t: number): number => TOP + (row.get(t) ?? 0) * ROW + ROW / 2;
    const height = TOP * 2 + Math.max(1, sorted.length) * ROW;

    this.drawHead(groups, lanes, laneW, totalW);

    const frag = document.createDocumentFragment();
    const defs = svg('defs', undefined, frag);
    const markers = new Map<string, string>();
    const marker = (colour: string): string => {
      let m = markers.get(colour);
      if (m === undefined) {
        m = arrowMarker(defs, `st-arrow-${markers.size}`, 'st-arrow', 7);
        defs.lastElementChild!.setAttribute('style', `fill:${colour}`);
        markers.set(colour, m);
      }
      return m;
    };
    const bg = svg('g', { class: 'st-lanes' }, frag);
    groups.forEach((g, i) => {
      if (i % 2 === 0) svg('rect', { class: 'st-band', x: g.x0, y: 0, width: g.x1 - g.x0, height }, bg);
    });
    for (const l of lanes) {
      const lg = svg('g', { class: 'lane', 'data-lane': l.key }, bg);
      svg('line', { class: 'st-lane', x1: l.x, x2: l.x, y1: 0, y2: height }, lg);
    }
    // a Lamport scale in the gutter, about every 60 px
    const every = Math.max(1, Math.round(60 / ROW));
    const scale = svg('g', { class: 'st-scale' }, frag);
    for (let i = 0; i < sorted.length; i += every) {
      const y = TOP + i * ROW + ROW / 2;
      svg('line', { class: 'st-grid', x1: GUTTER - 4, x2: totalW, y1: y, y2: y }, scale);
      svgText(String(sorted[i]), { class: 'st-tick-label', x: GUTTER - 8, y: y + 3.5 }, scale);
    }

    const marks = svg('g', { class: 'st-marks' }, frag);
    const arrows = svg('g', { class: 'st-arrows' }, frag);
    // crashes, restarts and drops above the arrows
    const faults = svg('g', { class: 'st-faults' }, frag);
    for (const e of shown) {
      const x = laneX.get(laneKey(e.node, e.engine))!;
      const y = yOf(e.lamport);
      const type = eventType(e);
      let el: SVGElement;
      switch (e.kind) {
        case 'deliver': {
          const from = senders.get(e);
          const colour = typeColour(type);
          if (from === undefined) {
            el = svg(
              'circle',
              { class: 'ext', cx: x, cy: y, r: 3.2, fill: colour, 'data-type': type },
              marks,
            );
            break;
          }
          const x1 = laneX.get(from)!;
          const y1 = yOf(e.sent);
          const net = e.from.startsWith('external:net:');
          if (x1 === x) {
            // to itself: a small loop to the right
            const d = `M${x},${y1} C${x + laneW * 0.45},${y1} ${x + laneW * 0.45},${y} ${x + 1},${y}`;
            el = svg('path', { class: 'msg self', d, stroke: colour, 'marker-end': marker(colour) }, arrows);
          } else {
            el = svg(
              'line',
              {
                class: net ? 'msg net' : 'msg',
                x1,
                y1,
                x2: x,
                y2: y,
                stroke: colour,
                'marker-end': marker(colour),
              },
              arrows,
            );
          }
          el.setAttribute('data-from-lane', from);
          el.setAttribute('data-to-lane', laneKey(e.node, e.engine));
          el.setAttribute('data-type', type);
          break;
        }
        case 'transition':
          el =
            e.from === e.to
              ? svg('line', { class: 'tick', x1: x - 3, x2: x + 3, y1: y, y2: y }, marks)
              : svg('line', { class: 'tick change', x1: x - 7, x2: x + 7, y1: y, y2: y }, marks);
          break;
        case 'emit':
          el = svg('circle', { class: 'emit', cx: x, cy: y, r: 2.2 }, marks);
          break;
        case 'timer':
          el = svg(
            'rect',
            {
              class: `timer timer-${e.op}`,
              x: x - 2.5,
              y: y - 2.5,
              width: 5,
              height: 5,
              transform: `rotate(45 ${x} ${y})`,
            },
            marks,
          );
          break;
        case 'crash':
        case 'failed':
          el = svg(
            'path',
            { class: 'fault', d: `M${x - 5},${y - 5}L${x + 5},${y + 5}M${x + 5},${y - 5}L${x - 5},${y + 5}` },
            faults,
          );
          break;
        case 'restart':
          el = svg('circle', { class: 'fault restart', cx: x, cy: y, r: 5 }, faults);
          break;
        case 'drop':
          el = svg(
            'path',
            { class: 'drop', d: `M${x - 4},${y - 4}L${x + 4},${y + 4}M${x + 4},${y - 4}L${x - 4},${y + 4}` },
            faults,
          );
          break;
        default:
          el = svg('line', { class: 'lifecycle', x1: x - 8, x2: x + 8, y1: y, y2: y }, marks);
      }
      el.setAttribute('data-kind', e.kind);
      svgTitle(describe(e), el);
    }
    if (shown.length === 0) {
      svgText(
        lanes.length === 0 ? 'No lanes: every node or engine is filtered out' : 'No events yet',
        { class: 'st-empty', x: totalW / 2, y: 40 },
        frag,
      );
    }

    this.body.setAttribute('width', String(totalW));
    this.body.setAttribute('height', String(Math.max(height, 60)));
    this.body.replaceChildren(frag);
    if (this.follow) {
      this.scrolling = true;
      this.el.scroll.scrollTop = this.el.scroll.scrollHeight;
      // the scroll event of this programmatic scroll comes asynchronously
      requestAnimationFrame(() => {
        this.scrolling = false;
      });
    }
  }

  private drawHead(
    groups: { node: string; x0: number; x1: number }[],
    lanes: Lane[],
    laneW: number,
    totalW: number,
  ): void {
    const longest = Math.max(0, ...lanes.map((l) => l.engine.length));
    const upright = laneW >= longest * LABEL_CHAR + 6;
    const labelH = upright ? 16 : Math.min(90, longest * LABEL_CHAR + 8);
    const height = 22 + labelH;
    const frag = document.createDocumentFragment();
    for (const g of groups) {
      const cx = (g.x0 + g.x1) / 2;
      const chars = Math.floor((g.x1 - g.x0) / 7);
      const t = svgText(clip(g.node, chars), { class: 'st-node', x: cx, y: 13 }, frag);
      if (!this.model.isUp(g.node)) t.classList.add('down');
      svg('line', { class: 'st-bracket', x1: g.x0 + 3, x2: g.x1 - 3, y1: 19, y2: 19 }, frag);
    }
    for (const l of lanes) {
      const attrs = upright
        ? { class: 'st-engine', x: l.x, y: 33, 'data-lane-head': l.key }
        : {
            class: 'st-engine vertical',
            x: l.x + 3.5,
            y: 24,
            transform: `rotate(90 ${l.x + 3.5} 24)`,
            'data-lane-head': l.key,
          };
      const t = svgText(
        upright ? l.engine : clip(l.engine, Math.floor((labelH - 8) / LABEL_CHAR)),
        attrs,
        frag,
      );
      svgTitle(l.key, t);
    }
    this.head.setAttribute('width', String(totalW));
    this.head.setAttribute('height', String(height));
    this.head.replaceChildren(frag);
  }
}
