/**
 * The space-time view's filters: node, engine, kind and message type, each a checkbox list in a
 * drop-down built from what has been seen. They apply to the events the page keeps at once and
 * are sent to every feed (`filter`) so the feeds stream less.
 */
import {
  eventType,
  FEED_EVENT_KINDS,
  type FeedEvent,
  type FeedEventKind,
  type FilterMessage,
} from '../protocol.ts';
import { typeColour } from './format.ts';
import type { Model } from './model.ts';
import { html, setText } from './svg.ts';

/** A list name no node has: `filter` treats an empty list as "all", so "none" is sent as this. */
export const NOTHING = '\u2205';

class CheckList {
  /** null: everything, including values not seen yet */
  selected: Set<string> | null = null;
  private values: string[] = [];
  readonly el: HTMLDetailsElement;
  private readonly count: HTMLElement;
  private readonly list: HTMLElement;

  constructor(
    host: HTMLElement,
    readonly name: string,
    id: string,
    private readonly onChange: () => void,
    private readonly swatch?: (v: string) => string,
  ) {
    this.el = html('details', { class: 'filter', id }, host);
    const summary = html('summary', undefined, this.el, `${name} `);
    this.count = html('span', { class: 'filter-count' }, summary, 'all');
    const menu = html('div', { class: 'filter-menu' }, this.el);
    const actions = html('div', { class: 'filter-actions' }, menu);
    html('button', { type: 'button' }, actions, 'All').addEventListener('click', () => this.set(null));
    html('button', { type: 'button' }, actions, 'None').addEventListener('click', () => this.set(new Set()));
    this.list = html('div', { class: 'filter-list' }, menu);
    this.list.addEventListener('change', (ev) => {
      const input = ev.target;
      if (!(input instanceof HTMLInputElement)) return;
      const next = new Set(this.selected ?? this.values);
      if (input.checked) next.add(input.value);
      else next.delete(input.value);
      this.set(this.values.every((v) => next.has(v)) ? null : next);
    });
  }

  accepts(v: string): boolean {
    return this.selected === null || this.selected.has(v);
  }

  get restricted(): boolean {
    return this.selected !== null;
  }

  private set(sel: Set<string> | null): void {
    this.selected = sel;
    this.renderChecks();
    this.onChange();
  }

  /** The values to choose from (new ones are chosen while nothing is restricted). */
  setValues(values: readonly string[]): void {
    if (values.length === this.values.length && values.every((v, i) => v === this.values[i])) return;
    this.values = [...values];
    this.list.replaceChildren(
      ...this.values.map((v) => {
        const label = html('label', { class: 'filter-item' });
        const input = html('input', { type: 'checkbox', value: v }, label);
        input.checked = this.accepts(v);
        if (this.swatch !== undefined)
          html('span', { class: 'swatch', style: `background:${this.swatch(v)}` }, label);
        html('span', undefined, label, v);
        return label;
      }),
    );
    this.renderCount();
  }

  private renderChecks(): void {
    for (const input of this.list.querySelectorAll('input')) input.checked = this.accepts(input.value);
    this.renderCount();
  }

  private renderCount(): void {
    const n =
      this.selected === null ? this.values.length : this.values.filter((v) => this.selected!.has(v)).length;
    setText(this.count, this.selected === null ? 'all' : `${n}/${this.values.length}`);
    this.el.classList.toggle('restricted', this.selected !== null);
  }

  /** For the feed: undefined when all, the chosen values otherwise. */
  chosen(): string[] | undefined {
    return this.selected === null ? undefined : [...this.selected];
  }
}

export class Filters {
  readonly nodes: CheckList;
  readonly engines: CheckList;
  readonly kinds: CheckList;
  readonly types: CheckList;
  /** bumped on every change, for views to know they must redraw */
  version = 0;

  constructor(host: HTMLElement, onChange: () => void) {
    const changed = (): void => {
      this.version++;
      onChange();
    };
    this.nodes = new CheckList(host, 'Nodes', 'filter-nodes', changed);
    this.engines = new CheckList(host, 'Engines', 'filter-engines', changed);
    this.kinds = new CheckList(host, 'Kinds', 'filter-kinds', changed);
    this.types = new CheckList(host, 'Types', 'filter-types', changed, (v) => typeColour(v));
    this.kinds.setValues(FEED_EVENT_KINDS);
    // one drop-down open at a time; a click elsewhere closes it
    const all = [this.nodes, this.engines, this.kinds, this.types];
    for (const l of all) {
      l.el.addEventListener('toggle', () => {
        if (l.el.open) for (const o of all) if (o !== l) o.el.open = false;
      });
    }
    document.addEventListener('click', (ev) => {
      for (const l of all) if (l.el.open && !l.el.contains(ev.target as Node)) l.el.open = false;
    });
  }

  /** The choices from what the model has seen. */
  sync(model: Model): void {
    this.nodes.setValues(model.nodes.map((n) => n.node));
    const engines = new Set<string>();
    for (const n of model.nodes) for (const e of n.engines) engines.add(e.name);
    this.engines.setValues([...engines]);
    this.types.setValues([...model.seenTypes].sort());
  }

  laneVisible(node: string, engine: string): boolean {
    return this.nodes.accepts(node) && this.engines.accepts(engine);
  }

  accepts(e: FeedEvent): boolean {
    return (
      this.nodes.accepts(e.node) &&
      this.engines.accepts(e.engine) &&
      this.kinds.accepts(e.kind) &&
      this.types.accepts(eventType(e))
    );
  }

  /** The `filter` message for the feeds. */
  message(): FilterMessage {
    const m: FilterMessage = { type: 'filter' };
    const lists = [this.nodes, this.engines, this.kinds, this.types];
    if (lists.some((l) => l.selected !== null && l.selected.size === 0)) {
      // nothing at all: no list can say so (empty means all), a node nobody has can
      m.nodes = [NOTHING];
      return m;
    }
    const nodes = this.nodes.chosen();
    const engines = this.engines.chosen();
    const kinds = this.kinds.chosen();
    const types = this.types.chosen();
    if (nodes !== undefined) m.nodes = nodes;
    if (engines !== undefined) m.engines = engines;
    if (kinds !== undefined) m.kinds = kinds as FeedEventKind[];
    if (types !== undefined) m.types = types;
    return m;
  }
}
