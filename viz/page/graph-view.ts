/**
 * The engine graphs: one panel per node drawing its laid-out graph (engines as boxes, connections
 * as routed arrows with their ports), the boxes updated live from status: state, message rate per
 * feed second, mailbox depth, status colour. A delivery lights its connection briefly.
 */
import type { Box, FeedEvent, GraphLayout } from '../protocol.ts';
import { clip, fmtInt, fmtRate } from './format.ts';
import { laneKey, type Model } from './model.ts';
import { arrowMarker, html, routePath, setAttr, setText, svg, svgText, svgTitle } from './svg.ts';

interface EngineView {
  g: SVGGElement;
  box: Box;
  name: string;
  texts: [SVGTextElement, SVGTextElement, SVGTextElement];
  /** the mailbox depth as a corner badge, when the box has room for two lines only */
  badge: SVGGElement;
  badgeText: SVGTextElement;
  title: SVGTitleElement;
  /** lines that fit at the current scale (3: name, state, metrics; 2: name, state and metrics) */
  lines: number;
  /** characters that fit on a line */
  chars: number;
}

interface NodePanel {
  node: string;
  el: HTMLElement;
  badge: HTMLElement;
  /** height, round, step */
  info: [HTMLElement, HTMLElement, HTMLElement];
  svg: SVGSVGElement | null;
  layout: GraphLayout | undefined;
  engines: Map<string, EngineView>;
  /** `fromEngine.fromPort>toEngine.toPort` → its group */
  edges: Map<string, SVGGElement>;
}

/** the node's name and consensus facts, left of its graph */
const HEAD_WIDTH = 80;
const GAP = 8;
const HOT_MS = 350;
/** a mailbox this deep is shown as a backlog */
const BUSY = 10;
/** monospace character width per px of font size */
const CHAR_EM = 0.6;
/** text sizes in the layout's units at full scale, and the smallest they may get on screen (px) */
const NAME_FONT = 12.5;
const DETAIL_FONT = 11.5;
const MIN_NAME_FONT = 10;
const MIN_DETAIL_FONT = 9;
/** below this the graphs scroll instead of shrinking */
const MIN_SCALE = 0.38;

export class GraphView {
  private panels = new Map<string, NodePanel>();
  private selected: { node: string; engine: string } | null = null;
  /** edges lit by a delivery, until the wall time given */
  private hot = new Map<SVGGElement, number>();
  private readonly observer: ResizeObserver;
  private scale = 1;

  constructor(
    private readonly root: HTMLElement,
    private readonly model: Model,
    private readonly onSelect: (node: string, engine: string) => void,
  ) {
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(root);
  }

  rebuild(): void {
    this.root.replaceChildren();
    this.panels.clear();
    this.hot.clear();
    if (this.model.nodes.length === 0) {
      html('div', { class: 'empty' }, this.root, 'Waiting for the feed…');
      return;
    }
    for (const info of this.model.nodes) {
      const el = html('section', { class: 'graph-node', 'data-graph-node': info.node }, this.root);
      const head = html('header', { class: 'graph-head' }, el);
      html('span', { class: 'node-name', title: info.node }, head, info.node);
      const badge = html('span', { class: 'pill' }, head, 'up');
      const line = (): HTMLElement => html('span', { class: 'graph-info' }, head);
      const panel: NodePanel = {
        node: info.node,
        el,
        badge,
        info: [line(), line(), line()],
        svg: null,
        layout: this.model.graphs.get(info.node),
        engines: new Map(),
        edges: new Map(),
      };
      if (panel.layout === undefined) html('div', { class: 'empty' }, el, 'no layout for this node');
      else this.draw(panel, panel.layout);
      this.panels.set(info.node, panel);
    }
    this.applySelection();
    this.fit(true);
    this.update();
  }

  private draw(panel: NodePanel, layout: GraphLayout): void {
    const id = `g${[...this.panels.keys()].length}`;
    const root = svg(
      'svg',
      { class: 'graph-svg', viewBox: `0 0 ${layout.width} ${layout.height}` },
      panel.el,
    );
    panel.svg = root;
    const defs = svg('defs', undefined, root);
    const arrow = arrowMarker(defs, `${id}-arrow`, 'arrow');
    const arrowHot = arrowMarker(defs, `${id}-arrow-hot`, 'arrow hot');
    const edges = svg('g', { class: 'edges' }, root);
    for (const e of layout.edges) {
      const g = svg('g', { class: 'edge' }, edges);
      const d = routePath(e.points);
      svg('path', { class: 'edge-line', d, 'marker-end': arrow }, g);
      svg('path', { class: 'edge-hot', d, 'marker-end': arrowHot }, g);
      const text = e.from.port === e.to.port ? e.from.port : `${e.from.port}→${e.to.port}`;
      if (e.label !== undefined) {
        svgText(text, { class: 'edge-label', x: e.label[0], y: e.label[1] }, g);
      }
      svgTitle(`${e.from.engine}.${e.from.port} → ${e.to.engine}.${e.to.port}`, g);
      panel.edges.set(`${e.from.engine}.${e.from.port}>${e.to.engine}.${e.to.port}`, g);
    }
    const boxes = svg('g', { class: 'engines' }, root);
    for (const { name, box } of layout.engines) {
      const g = svg('g', { class: 'engine', 'data-engine': name, tabindex: 0 }, boxes);
      svg(
        'rect',
        { class: 'engine-box', x: box.x, y: box.y, width: box.width, height: box.height, rx: 7 },
        g,
      );
      svg(
        'rect',
        { class: 'engine-strip', x: box.x, y: box.y + 6, width: 3, height: box.height - 12, rx: 1.5 },
        g,
      );
      const cx = box.x + box.width / 2;
      const texts: EngineView['texts'] = [
        svgText(name, { class: 'engine-name', x: cx, y: box.y }, g),
        svgText('', { class: 'engine-state', x: cx, y: box.y }, g),
        svgText('', { class: 'engine-metrics', x: cx, y: box.y }, g),
      ];
      const badge = svg('g', { class: 'mailbox-badge' }, g);
      svg('rect', { class: 'badge-box', rx: 6 }, badge);
      const badgeText = svgText('0', { class: 'badge-text' }, badge);
      const title = svgTitle(name, g);
      const select = (): void => this.onSelect(panel.node, name);
      g.addEventListener('click', select);
      g.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') select();
      });
      panel.engines.set(name, { g, box, name, texts, badge, badgeText, title, lines: 3, chars: 20 });
    }
  }

  /** Live values from the model's status. */
  update(): void {
    for (const panel of this.panels.values()) {
      const up = this.model.isUp(panel.node);
      const st = this.model.status.get(panel.node);
      const feed = this.model.owner.get(panel.node);
      panel.el.classList.toggle('down', !up);
      const offline = feed !== undefined && feed.state !== 'open';
      setText(panel.badge, offline ? 'feed offline' : st === undefined ? '…' : up ? 'up' : 'down');
      panel.badge.className = `pill ${offline || !up ? 'pill-bad' : st === undefined ? '' : 'pill-good'}`;
      const c = st?.consensus;
      setText(panel.info[0], c === undefined ? '' : `h ${c.height}`);
      setText(panel.info[1], c === undefined ? '' : `r ${c.round}`);
      setText(panel.info[2], c === undefined ? '' : c.step);
      panel.el.title = c === undefined ? '' : `height ${c.height} · round ${c.round} · step ${c.step}`;
      for (const [name, v] of panel.engines) {
        const e = st?.engines.find((x) => x.name === name);
        const status = e?.status ?? 'unknown';
        const busy = e !== undefined && e.mailbox >= BUSY;
        setAttr(
          v.g,
          'class',
          `engine status-${status}${this.isSelected(panel.node, name) ? ' selected' : ''}${busy ? ' busy' : ''}`,
        );
        setAttr(v.g, 'data-state', e?.state ?? '');
        setAttr(v.g, 'data-mailbox', e?.mailbox ?? 0);
        setAttr(v.g, 'data-processed', e?.processed ?? 0);
        setAttr(v.g, 'data-status', status);
        if (e === undefined) {
          setText(v.texts[1], '–');
          setText(v.texts[2], '');
          continue;
        }
        const stateText =
          e.status === 'failed' ? 'FAILED' : e.status === 'stopped' ? 'stopped' : e.state || '·';
        const rate = this.model.rates.get(laneKey(panel.node, name))?.rate ?? null;
        const r = fmtRate(rate);
        const mb = fmtInt(e.mailbox);
        if (v.lines >= 3) {
          setText(v.texts[1], clip(stateText, v.chars));
          setText(
            v.texts[2],
            firstFitting(v.chars, [
              `${r} msg/s · mailbox ${mb}`,
              `${r}/s · mailbox ${mb}`,
              `${r}/s · mbox ${mb}`,
            ]),
          );
        } else {
          const tail = ` · ${r}/s`;
          setText(
            v.texts[1],
            firstFitting(v.chars, [
              `${stateText}${tail}`,
              `${stateText} ${r}/s`,
              `${clip(stateText, Math.max(5, v.chars - tail.length))}${tail}`,
            ]),
          );
          setText(v.texts[2], '');
          this.placeBadge(v, mb);
        }
        setText(
          v.title,
          `${panel.node}/${name} (${this.model.engine(panel.node, name)?.definition ?? '?'})\n` +
            `state ${e.state || '–'} · ${e.status}\nprocessed ${fmtInt(e.processed)} · mailbox ${e.mailbox}` +
            ` · restarts ${e.restarts}\nrate ${fmtRate(rate)} messages per feed second` +
            ' (virtual time in a simulation)\nclick: show its statechart',
        );
      }
    }
  }

  /** The mailbox badge on the box's top-right corner, sized to its number. */
  private placeBadge(v: EngineView, mb: string): void {
    if (v.badgeText.textContent === mb && v.badge.dataset.scale === String(this.scale)) return;
    setText(v.badgeText, mb);
    v.badge.dataset.scale = String(this.scale);
    const font = Math.max(10, 9 / this.scale);
    const h = font * 1.45;
    const w = Math.max(h, mb.length * font * CHAR_EM + font);
    const x = v.box.x + v.box.width - w * 0.6;
    const y = v.box.y - h * 0.45;
    const rect = v.badge.firstElementChild!;
    rect.setAttribute('x', String(x));
    rect.setAttribute('y', String(y));
    rect.setAttribute('width', String(w));
    rect.setAttribute('height', String(h));
    rect.setAttribute('rx', String(h / 2));
    v.badgeText.setAttribute('x', String(x + w / 2));
    v.badgeText.setAttribute('y', String(y + h / 2));
    v.badgeText.style.fontSize = `${font}px`;
  }

  /** Lights the connections that new deliveries came over. */
  onEvents(events: readonly FeedEvent[]): void {
    const until = performance.now() + HOT_MS;
    for (const e of events) {
      if (e.kind !== 'deliver' || e.from.startsWith('external:')) continue;
      const g = this.panels.get(e.node)?.edges.get(`${e.from}>${e.engine}.${e.port}`);
      if (g === undefined) continue;
      if (!this.hot.has(g)) g.classList.add('hot');
      this.hot.set(g, until);
    }
  }

  /** Turns off lights whose time is up; returns whether any are still lit. */
  tick(now: number): boolean {
    for (const [g, until] of this.hot) {
      if (until > now) continue;
      g.classList.remove('hot');
      this.hot.delete(g);
    }
    return this.hot.size > 0;
  }

  select(node: string, engine: string): void {
    this.selected = { node, engine };
    this.applySelection();
  }

  private isSelected(node: string, engine: string): boolean {
    return this.selected?.node === node && this.selected.engine === engine;
  }

  private applySelection(): void {
    for (const panel of this.panels.values()) {
      for (const [name, v] of panel.engines)
        v.g.classList.toggle('selected', this.isSelected(panel.node, name));
    }
  }

  /** Sizes the panels: the column count that draws the graphs largest in the space there is. */
  private fit(force = false): void {
    const panels = [...this.panels.values()].filter((p) => p.layout !== undefined);
    if (panels.length === 0) return;
    const W = this.root.clientWidth;
    const H = this.root.clientHeight;
    if (W === 0 || H === 0) return;
    const lw = Math.max(...panels.map((p) => p.layout!.width));
    const lh = Math.max(...panels.map((p) => p.layout!.height));
    const n = this.panels.size;
    let best = { cols: 1, scale: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const cellW = (W - (cols - 1) * GAP) / cols - HEAD_WIDTH - 14;
      const cellH = (H - (rows - 1) * GAP) / rows - 8;
      const scale = Math.min(cellW / lw, cellH / lh);
      if (scale > best.scale) best = { cols, scale };
    }
    let { cols } = best;
    const scale = Math.min(1.25, Math.max(MIN_SCALE, best.scale));
    // too small even in the best arrangement: as many columns as fit at the smallest scale, then scroll
    while (cols > 1 && (W - (cols - 1) * GAP) / cols - HEAD_WIDTH - 14 < lw * scale) cols--;
    // wider than the panel even so: the panels keep their size and the graphs scroll sideways
    const overflow = (W - (cols - 1) * GAP) / cols - HEAD_WIDTH - 14 < lw * scale;
    this.root.style.gridTemplateColumns = `repeat(${cols}, ${overflow ? 'max-content' : 'minmax(0, 1fr)'})`;
    for (const p of panels) {
      p.svg!.setAttribute('width', String(Math.floor(p.layout!.width * scale)));
      p.svg!.setAttribute('height', String(Math.floor(p.layout!.height * scale)));
    }
    if (scale !== this.scale || force) {
      this.scale = scale;
      this.applyScale();
      this.update();
    }
  }

  /** Text stays readable when the drawing is scaled down: its size is kept up, the lines adapt to the box. */
  private applyScale(): void {
    const k = this.scale;
    const nameFont = Math.max(NAME_FONT, MIN_NAME_FONT / k);
    const font = Math.max(DETAIL_FONT, MIN_DETAIL_FONT / k);
    for (const panel of this.panels.values()) {
      panel.svg?.style.setProperty('--edge-font', `${Math.max(10.5, MIN_DETAIL_FONT / k)}px`);
      for (const v of panel.engines.values()) {
        const { box } = v;
        const three = nameFont * 1.2 + 2 * font * 1.25;
        v.lines = box.height >= three + 4 ? 3 : 2;
        v.chars = Math.max(4, Math.floor((box.width - 12) / (CHAR_EM * font)));
        const heights =
          v.lines === 3 ? [nameFont * 1.2, font * 1.25, font * 1.25] : [nameFont * 1.15, font * 1.2];
        let y = box.y + (box.height - heights.reduce((a, b) => a + b, 0)) / 2;
        v.texts.forEach((t, i) => {
          const h = heights[i];
          t.style.display = h === undefined ? 'none' : '';
          if (h === undefined) return;
          t.setAttribute('y', String(Math.round((y + h / 2) * 10) / 10));
          t.style.fontSize = `${i === 0 ? nameFont : font}px`;
          y += h;
        });
        setText(v.texts[0], clip(v.name, Math.floor((box.width - 12) / (CHAR_EM * nameFont))));
        v.badge.style.display = v.lines === 3 ? 'none' : '';
        v.badge.dataset.scale = '';
      }
    }
  }
}

/** The first candidate that fits in `chars`, else the last one clipped. */
function firstFitting(chars: number, candidates: string[]): string {
  for (const c of candidates) if (c.length <= chars) return c;
  return clip(candidates.at(-1) ?? '', chars);
}
