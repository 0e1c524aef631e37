/**
 * The statechart of one engine (chosen with #chart-node and #chart-engine, or by clicking an
 * engine in a graph), or of a machine its core runs (a part, chosen with #chart-parts; consensus:
 * the round machine): its laid-out states and transitions, the current state and its ancestors
 * highlighted from status, transitions flashing as the engine (or the part) takes them, and a
 * log of its recent state changes with the rules that made them.
 */
import {
  type ChartLayout,
  type ChartStateLayout,
  type ChartTransitionLayout,
  type FeedEvent,
  transitionLabel,
  transitionText,
} from '../protocol.ts';
import { clip, fmtInt, fmtTime } from './format.ts';
import { laneKey, type Model, partKey } from './model.ts';
import { arrowMarker, html, routePath, setText, svg, svgText, svgTitle } from './svg.ts';

const FLASH_MS = 600;
const PAD = 14;
/** unless asked to fit everything, the chart is not drawn smaller than this (it scrolls instead) */
const READABLE = 0.8;
const CHAR = 7.2;
const SMALL_CHAR = 6.6;
const LOG_SHOWN = 30;

/** Splits at top-level `sep`, outside parentheses. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/**
 * The leaf paths of a state string: `a.b` is one; parallel regions read `(x.y|z)` and
 * `p.(x|y)` (the runtime's `stateToString`), giving one path per region.
 */
export function statePaths(s: string): string[] {
  if (s === '') return [''];
  if (s.startsWith('(') && s.endsWith(')')) return splitTop(s.slice(1, -1), '|').flatMap(statePaths);
  const i = s.indexOf('.(');
  if (i >= 0) {
    const head = s.slice(0, i);
    return statePaths(s.slice(i + 1)).map((p) => (p === '' ? head : `${head}.${p}`));
  }
  return [s];
}

export interface ChartElements {
  node: HTMLSelectElement;
  engine: HTMLSelectElement;
  chart: HTMLElement;
  log: HTMLOListElement;
  current: HTMLElement;
  /** toggles between a readable size (scrolling, following the current state) and fitting all */
  fit: HTMLButtonElement;
  /** a button per chart of the engine: its own machine, then each part (hidden without parts) */
  parts: HTMLElement;
}

/** A step as the chart shows it: the engine's, or a part's share of it. */
interface ShownStep {
  event: string;
  from: string;
  to: string;
  taken?: readonly string[];
}

export class ChartView {
  private node = '';
  private engine = '';
  /** the part shown ('' = the engine's own machine) */
  private part = '';
  /** the part last chosen: kept while other engines are looked at, shown again where it exists */
  private wantedPart = '';
  private chart: ChartLayout | null = null;
  private svgEl: SVGSVGElement | null = null;
  private states = new Map<string, SVGGElement>();
  private byId = new Map<string, ChartStateLayout>();
  /** transition index → its elements (an arrow group and its label, or a line inside a state) */
  private transitions = new Map<number, SVGElement[]>();
  private highlighted: SVGGElement[] = [];
  private flashing = new Map<SVGElement, number>();
  /** steps of the selected engine (or part) not yet drawn */
  private pending: ShownStep[] = [];
  /** the state shown: from status, or from the latest transition event */
  private state: string | null = null;
  private logDirty = true;
  /** what the log shows, to redraw it only when that changes */
  private logShown = '';
  private fitAll = false;
  private scale = 1;
  private readonly observer: ResizeObserver;

  constructor(
    private readonly model: Model,
    private readonly el: ChartElements,
    private readonly onChange: (node: string, engine: string) => void,
  ) {
    el.node.addEventListener('change', () => {
      this.node = el.node.value;
      this.engine = '';
      this.fillEngines();
      this.selectionChanged();
    });
    el.engine.addEventListener('change', () => {
      this.engine = el.engine.value;
      this.selectionChanged();
    });
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(el.chart);
    el.fit.addEventListener('click', () => {
      this.fitAll = !this.fitAll;
      this.fit();
      this.reveal();
    });
    el.parts.addEventListener('click', (ev) => {
      const button = (ev.target as Element).closest('button[data-part]');
      if (button === null) return;
      this.wantedPart = button.getAttribute('data-part') ?? '';
      this.selectionChanged();
    });
  }

  get selection(): { node: string; engine: string; part: string } {
    return { node: this.node, engine: this.engine, part: this.part };
  }

  /** After the structure changed: the selectors' options, the selection kept where it still exists. */
  rebuild(): void {
    const nodes = this.model.nodes.map((n) => n.node);
    if (!nodes.includes(this.node)) {
      this.node = nodes[0] ?? '';
      this.engine = '';
    }
    this.el.node.replaceChildren(...nodes.map((n) => new Option(n, n, false, n === this.node)));
    this.fillEngines();
    this.selectionChanged(true);
  }

  private fillEngines(): void {
    const engines = [...(this.model.engines.get(this.node)?.values() ?? [])];
    if (!engines.some((e) => e.name === this.engine)) {
      this.engine = engines.find((e) => e.name === 'consensus')?.name ?? engines[0]?.name ?? '';
    }
    this.el.engine.replaceChildren(
      ...engines.map(
        (e) =>
          new Option(
            e.name === e.definition ? e.name : `${e.name} (${e.definition})`,
            e.name,
            false,
            e.name === this.engine,
          ),
      ),
    );
    this.el.node.value = this.node;
    this.el.engine.value = this.engine;
  }

  /** Selects an engine (a click in a graph). */
  select(node: string, engine: string): void {
    if (node === this.node && engine === this.engine) return;
    this.node = node;
    this.engine = engine;
    this.el.node.value = node;
    this.fillEngines();
    this.selectionChanged();
  }

  /** The part shown: the one last chosen if this engine has it; and a button per chart. */
  private fillParts(): void {
    const parts = this.model.partChartsOf(this.node, this.engine);
    this.part = parts.has(this.wantedPart) ? this.wantedPart : '';
    const el = this.el.parts;
    el.hidden = parts.size === 0;
    this.el.chart.closest('.panel')?.classList.toggle('showing-part', this.part !== '');
    if (parts.size === 0) {
      el.replaceChildren();
      return;
    }
    const definition = this.model.engine(this.node, this.engine)?.definition ?? this.engine;
    const button = (part: string, label: string, title: string): HTMLButtonElement => {
      const b = html(
        'button',
        { type: 'button', class: 'small', 'data-part': part, title },
        undefined,
        label,
      );
      b.classList.toggle('on', part === this.part);
      b.setAttribute('aria-pressed', String(part === this.part));
      return b;
    };
    el.replaceChildren(
      button('', definition, `The ${definition} engine's machine`),
      ...[...parts].map(([part, chart]) =>
        button(part, part, `The ${chart.id} machine the ${definition} engine's core runs on every input`),
      ),
    );
  }

  private selectionChanged(force = false): void {
    this.fillParts();
    const chart =
      (this.part === ''
        ? this.model.chartOf(this.node, this.engine)
        : this.model.partChart(this.node, this.engine, this.part)) ?? null;
    this.pending = [];
    this.state = null;
    if (force || chart !== this.chart) this.draw(chart);
    this.onStatus();
    this.highlight();
    this.logDirty = true;
    this.onChange(this.node, this.engine);
  }

  private draw(chart: ChartLayout | null): void {
    this.chart = chart;
    this.states.clear();
    this.byId.clear();
    this.transitions.clear();
    this.highlighted = [];
    this.flashing.clear();
    this.svgEl = null;
    const host = this.el.chart;
    host.replaceChildren();
    if (chart === null) {
      const def = this.model.engine(this.node, this.engine)?.definition;
      html(
        'div',
        { class: 'empty' },
        host,
        this.engine === '' ? 'No engine selected' : `No statechart for ${def ?? this.engine}`,
      );
      return;
    }
    for (const s of chart.states) this.byId.set(s.id, s);
    const root = svg(
      'svg',
      { class: 'chart-svg', viewBox: `${-PAD} ${-PAD} ${chart.width + 2 * PAD} ${chart.height + 2 * PAD}` },
      host,
    );
    this.svgEl = root;
    const defs = svg('defs', undefined, root);
    const arrow = arrowMarker(defs, 'chart-arrow', 'arrow', 8);
    const arrowFlash = arrowMarker(defs, 'chart-arrow-flash', 'arrow flash', 10);
    const internal = new Map<string, ChartTransitionLayout[]>();
    for (const t of chart.transitions) {
      if (t.internal) internal.set(t.from, [...(internal.get(t.from) ?? []), t]);
    }
    const stateLayer = svg('g', { class: 'states' }, root);
    for (const s of chart.states) this.drawState(stateLayer, s, internal.get(s.id) ?? []);
    const arrows = svg('g', { class: 'transitions' }, root);
    const labels = svg('g', { class: 'transition-labels' }, root);
    for (const t of chart.transitions) {
      if (t.internal || t.points.length < 2) continue;
      const g = svg('g', { class: 'transition', 'data-transition': t.index }, arrows);
      const d = routePath(t.points, 8);
      svg('path', { class: 'transition-line', d, 'marker-end': arrow }, g);
      svg('path', { class: 'transition-flash', d, 'marker-end': arrowFlash }, g);
      svgTitle(`${this.short(t.from)} → ${this.short(t.to)}: ${transitionText(t)}`, g);
      const els: SVGElement[] = [g];
      if (t.label !== undefined) {
        const attrs = { class: 'transition-label', x: t.label[0], y: t.label[1], 'data-label-of': t.index };
        els.push(svgText(transitionLabel(t), attrs, labels));
      }
      this.transitions.set(t.index, els);
    }
    this.fit();
  }

  private short(id: string): string {
    return this.chart !== null && id.startsWith(`${this.chart.id}.`)
      ? id.slice(this.chart.id.length + 1)
      : id;
  }

  private drawState(layer: SVGGElement, s: ChartStateLayout, internal: ChartTransitionLayout[]): void {
    const { x, y, width: w, height: h } = s.box;
    const container = s.type === 'compound' || s.type === 'parallel' || s.parent === null;
    const g = svg(
      'g',
      { class: `state state-${s.type}${container ? ' container' : ''}`, 'data-state-id': s.id },
      layer,
    );
    if (s.type === 'history') {
      const r = Math.min(w, h) / 2;
      svg('circle', { class: 'state-box', cx: x + w / 2, cy: y + h / 2, r }, g);
      svgText('H', { class: 'state-label', x: x + w / 2, y: y + h / 2 + 4 }, g);
    } else {
      svg('rect', { class: 'state-box', x, y, width: w, height: h, rx: container ? 10 : 8 }, g);
      if (s.type === 'final') {
        svg('rect', { class: 'state-inner', x: x + 3, y: y + 3, width: w - 6, height: h - 6, rx: 6 }, g);
      }
      if (container) {
        svg('line', { class: 'state-rule', x1: x, x2: x + w, y1: y + 26, y2: y + 26 }, g);
        svgText(
          clip(s.label, Math.floor((w - 20) / CHAR)),
          { class: 'state-label header', x: x + 10, y: y + 18 },
          g,
        );
      } else {
        svgText(
          clip(s.label, Math.floor((w - 8) / CHAR)),
          { class: 'state-label', x: x + w / 2, y: y + 20 },
          g,
        );
      }
    }
    internal.forEach((t, i) => {
      const text = clip(transitionLabel(t), Math.floor((w - 12) / SMALL_CHAR));
      const attrs = container
        ? { class: 'internal-line', x: x + 10, y: y + 18 + 16 * (i + 1), 'data-transition': t.index }
        : {
            class: 'internal-line centred',
            x: x + w / 2,
            y: y + 20 + 16 * (i + 1),
            'data-transition': t.index,
          };
      const line = svgText(text, attrs, g);
      svgTitle(`handled in place: ${transitionText(t)}`, line);
      this.transitions.set(t.index, [line]);
    });
    if (container && internal.length > 0) {
      svg(
        'line',
        {
          class: 'state-rule',
          x1: x,
          x2: x + w,
          y1: y + 26 + 16 * internal.length,
          y2: y + 26 + 16 * internal.length,
        },
        g,
      );
    }
    if (s.initial) {
      const cy = y + Math.min(16, h / 2);
      svg('circle', { class: 'initial-dot', cx: x - 11, cy, r: 4 }, g);
      svg('line', { class: 'initial-line', x1: x - 7, y1: cy, x2: x - 1, y2: cy }, g);
    }
    svgTitle(`${s.id} (${s.type})`, g);
    this.states.set(s.id, g);
  }

  /** Fits the drawing to its box (never larger than 1.5x), or keeps it readable and scrolls. */
  private fit(): void {
    const chart = this.chart;
    const root = this.svgEl;
    if (chart === null || root === null) {
      this.el.fit.hidden = true;
      return;
    }
    const W = this.el.chart.clientWidth - 8;
    const H = this.el.chart.clientHeight - 8;
    if (W <= 0 || H <= 0) return;
    const vw = chart.width + 2 * PAD;
    const vh = chart.height + 2 * PAD;
    const fits = Math.min(1.5, W / vw, H / vh);
    this.scale = this.fitAll ? fits : Math.max(fits, READABLE);
    root.setAttribute('width', String(Math.floor(vw * this.scale)));
    root.setAttribute('height', String(Math.floor(vh * this.scale)));
    this.el.fit.hidden = fits >= READABLE;
    setText(this.el.fit, this.fitAll ? 'Zoom in' : 'Fit all');
    this.el.fit.title = this.fitAll
      ? 'Draw the chart at a readable size (it scrolls, following the current state)'
      : 'Shrink the chart to fit the panel';
  }

  /** Scrolls the current state into view when the chart is larger than its box. */
  private reveal(): void {
    const chart = this.chart;
    const leaf = this.activeIds()[0];
    if (chart === null || leaf === undefined || this.fitAll) return;
    const s = this.byId.get(leaf);
    const host = this.el.chart;
    if (s === undefined) return;
    if (host.scrollHeight <= host.clientHeight + 2 && host.scrollWidth <= host.clientWidth + 2) return;
    const k = this.scale;
    const x = (s.box.x + PAD) * k;
    const y = (s.box.y + PAD) * k;
    const w = s.box.width * k;
    const h = s.box.height * k;
    const inX = x >= host.scrollLeft && x + w <= host.scrollLeft + host.clientWidth;
    const inY = y >= host.scrollTop && y + h <= host.scrollTop + host.clientHeight;
    if (inX && inY) return;
    host.scrollTo({
      left: inX ? host.scrollLeft : x + w / 2 - host.clientWidth / 2,
      top: inY ? host.scrollTop : y + h / 2 - host.clientHeight / 2,
      behavior: 'smooth',
    });
  }

  /** The chart ids of the current state's leaves (a missing one falls back to its nearest known ancestor). */
  private activeIds(): string[] {
    const chart = this.chart;
    if (chart === null || this.state === null) return [];
    const out: string[] = [];
    for (const p of statePaths(this.state)) {
      let id = p === '' ? chart.id : `${chart.id}.${p}`;
      while (!this.byId.has(id) && id.includes('.')) id = id.slice(0, id.lastIndexOf('.'));
      if (this.byId.has(id)) out.push(id);
    }
    return out;
  }

  private highlight(): void {
    for (const g of this.highlighted) g.classList.remove('active', 'active-ancestor');
    this.highlighted = [];
    const leaves = this.activeIds();
    for (const leaf of leaves) {
      const g = this.states.get(leaf);
      if (g !== undefined) {
        g.classList.add('active');
        this.highlighted.push(g);
      }
      for (let p = this.byId.get(leaf)?.parent ?? null; p !== null; p = this.byId.get(p)?.parent ?? null) {
        const a = this.states.get(p);
        if (a === undefined || leaves.includes(p)) continue;
        a.classList.add('active-ancestor');
        this.highlighted.push(a);
      }
    }
    const shown =
      this.part === '' ? `${this.node}/${this.engine}` : `${this.node}/${this.engine} › ${this.part}`;
    setText(
      this.el.current,
      this.state === null ? '' : `${shown}: ${this.state === '' ? '(root)' : this.state}`,
    );
    this.reveal();
  }

  /** After a status: the current state from it. */
  onStatus(): void {
    const st = this.model.engineStatus(this.node, this.engine);
    const stopped = st?.status === 'stopped' || !this.model.isUp(this.node);
    // a stopped engine is in no state; a part's state is known once it ran while watched
    const state =
      st === undefined || stopped
        ? null
        : this.part === ''
          ? st.state
          : (st.parts?.[this.part] ?? this.state);
    this.el.chart.classList.toggle('engine-failed', st?.status === 'failed');
    this.el.chart.classList.toggle('engine-stopped', stopped);
    if (state !== this.state) {
      this.state = state;
      this.highlight();
    }
    this.logDirty = true;
  }

  /** New events: the selected engine's transitions are flashed at the next frame. */
  onEvents(events: readonly FeedEvent[]): void {
    for (const e of events) {
      if (e.kind !== 'transition' || e.node !== this.node || e.engine !== this.engine) continue;
      if (this.part === '') {
        this.pending.push(e);
        if (e.from !== e.to) this.logDirty = true;
        continue;
      }
      const p = e.parts?.find((x) => x.part === this.part);
      if (p === undefined) continue;
      this.pending.push({ event: e.event, from: p.state, to: p.state, taken: p.taken });
      if (p.taken.length > 0) this.logDirty = true;
    }
    if (this.pending.length > 200) this.pending.splice(0, this.pending.length - 200);
  }

  /** Draws what is pending; returns whether it needs another frame (a flash to end). */
  render(now: number): boolean {
    if (this.pending.length > 0) {
      const until = now + FLASH_MS;
      for (const e of this.pending) {
        for (const el of this.matching(e)) {
          if (!this.flashing.has(el)) el.classList.add('flash');
          this.flashing.set(el, until);
        }
      }
      const last = this.pending.at(-1)!;
      this.pending = [];
      if (last.to !== this.state) {
        this.state = last.to;
        this.highlight();
      }
    }
    for (const [el, until] of this.flashing) {
      if (until > now) continue;
      el.classList.remove('flash');
      this.flashing.delete(el);
    }
    if (this.logDirty) this.renderLog();
    return this.flashing.size > 0;
  }

  /**
   * The transitions an engine's step took: the ones it names when it names them; otherwise (a trace
   * recorded without them) a change of state matches the arrows from the old
   * state (or an ancestor) to the new one (or an ancestor), by event when one has it (events
   * such as `always` do not name what triggered them); a step in place matches its state's
   * (or an ancestor's) internal transitions for that event.
   */
  private matching(e: ShownStep): SVGElement[] {
    const chart = this.chart;
    if (chart === null) return [];
    // the runtime said which transitions it took: exactly those (every hop of an eventless chain);
    // a part's step is always named (its events are the core's, not the engine's)
    if (e.taken !== undefined && (e.taken.length > 0 || this.part !== '')) {
      const taken = new Set(e.taken);
      return chart.transitions
        .filter((t) => taken.has(t.id))
        .flatMap((t) => this.transitions.get(t.index) ?? []);
    }
    const full = (p: string): string => (p === '' ? chart.id : `${chart.id}.${p}`);
    const upFrom = new Set(statePaths(e.from).flatMap((p) => this.ancestry(full(p))));
    const upTo = new Set(statePaths(e.to).flatMap((p) => this.ancestry(full(p))));
    let found: ChartTransitionLayout[];
    if (e.from === e.to) {
      found = chart.transitions.filter((t) => t.event === e.event && upFrom.has(t.from) && t.from === t.to);
    } else {
      const candidates = chart.transitions.filter((t) => !t.internal && upFrom.has(t.from) && upTo.has(t.to));
      const byEvent = candidates.filter((t) => t.event === e.event);
      found = byEvent.length > 0 ? byEvent : candidates;
    }
    return found.flatMap((t) => this.transitions.get(t.index) ?? []);
  }

  private ancestry(id: string): string[] {
    const out: string[] = [];
    for (let s: string | null = id; s !== null; s = this.byId.get(s)?.parent ?? null) {
      out.push(s);
      if (!this.byId.has(s)) break;
    }
    return out;
  }

  private renderLog(): void {
    this.logDirty = false;
    const key =
      this.part === '' ? laneKey(this.node, this.engine) : partKey(this.node, this.engine, this.part);
    const log = this.model.logs.get(key) ?? [];
    const inPlace = this.model.inPlace.get(key) ?? 0;
    const last = log.at(-1);
    const shown = `${key} ${this.model.epoch} ${log.length} ${last?.lamport ?? ''} ${inPlace}`;
    if (shown === this.logShown) return;
    this.logShown = shown;
    const items: HTMLLIElement[] = [];
    for (const t of log.slice(-LOG_SHOWN).reverse()) {
      const li = html('li', {
        title: `${t.from || '(root)'} → ${t.to || '(root)'} on ${t.event}\nat ${fmtTime(t.at)}, lamport ${t.lamport}`,
      });
      const change = html('div', { class: 'log-change' }, li);
      html('span', { class: 'log-from' }, change, t.from || '(root)');
      change.append(' → ');
      html('span', { class: 'log-to' }, change, t.to || '(root)');
      const meta = html('div', { class: 'log-meta' }, li);
      html('span', { class: 'log-time' }, meta, `${fmtTime(t.at)}`);
      html('span', { class: 'log-event' }, meta, t.event);
      // the rules that fired, as the chart labels them: `always [line 36 …]`, hop by hop
      for (const rule of this.rulesOf(t.taken)) html('div', { class: 'log-rule' }, li, rule);
      items.push(li);
    }
    if (items.length === 0) {
      items.push(html('li', { class: 'log-empty' }, undefined, 'No state changes seen yet'));
    }
    if (inPlace > 0) {
      items.push(
        html('li', { class: 'log-note' }, undefined, `+ ${fmtInt(inPlace)} events handled in place`),
      );
    }
    this.el.log.replaceChildren(...items);
  }

  /** The labels of the taken transitions that carry a guard (the rule that decided each hop). */
  private rulesOf(taken: readonly string[] | undefined): string[] {
    const chart = this.chart;
    if (chart === null || taken === undefined) return [];
    const out: string[] = [];
    for (const id of taken) {
      const t = chart.transitions.find((x) => x.id === id);
      if (t?.guard !== undefined && !out.includes(transitionText(t))) out.push(transitionText(t));
    }
    return out;
  }

  /** Everything shown is void (reset): forget flashes and pending events. */
  clearEvents(): void {
    this.pending = [];
    for (const el of this.flashing.keys()) el.classList.remove('flash');
    this.flashing.clear();
    this.logDirty = true;
  }
}
