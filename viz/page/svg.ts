/** Small DOM and SVG helpers: typed element builders, routes as paths, arrowhead markers. */
import type { Point } from '../protocol.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';

export type Attrs = Record<string, string | number | undefined>;

function setAttrs(el: Element, attrs: Attrs | undefined): void {
  if (attrs === undefined) return;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
}

/** An SVG element with attributes, appended to `parent` when given. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  parent?: Element | DocumentFragment,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  parent?.appendChild(el);
  return el;
}

/** An SVG `<text>` with its content. */
export function svgText(text: string, attrs: Attrs, parent?: Element | DocumentFragment): SVGTextElement {
  const el = svg('text', attrs, parent);
  el.textContent = text;
  return el;
}

/** An SVG `<title>` (the browser's hover text) for `parent`. */
export function svgTitle(text: string, parent: Element): SVGTitleElement {
  const el = svg('title', undefined, parent);
  el.textContent = text;
  return el;
}

/** An HTML element with attributes and optional text, appended to `parent` when given. */
export function html<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  parent?: Element | DocumentFragment,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  if (text !== undefined) el.textContent = text;
  parent?.appendChild(el);
  return el;
}

/** The element with this id, of the expected type (the page's markup is fixed: a miss is a bug). */
export function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`page: #${id} is missing or not a ${type.name}`);
  return el;
}

/** Sets an element's text only when it changed (cheap enough to call every frame). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Sets an attribute only when it changed. */
export function setAttr(el: Element, name: string, value: string | number): void {
  const v = String(value);
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

const r1 = (v: number): string => String(Math.round(v * 10) / 10);

/**
 * A route as an SVG path: straight segments with their corners rounded by up to `radius`
 * (never more than half a segment, so short zigzags stay sharp enough to read).
 */
export function routePath(points: readonly Point[], radius = 6): string {
  if (points.length === 0) return '';
  const [x0, y0] = points[0]!;
  let d = `M${r1(x0)},${r1(y0)}`;
  for (let i = 1; i < points.length; i++) {
    const [x, y] = points[i]!;
    const next = points[i + 1];
    if (next === undefined || radius <= 0) {
      d += `L${r1(x)},${r1(y)}`;
      continue;
    }
    const [px, py] = points[i - 1]!;
    const [nx, ny] = next;
    const inLen = Math.hypot(x - px, y - py);
    const outLen = Math.hypot(nx - x, ny - y);
    const r = Math.min(radius, inLen / 2, outLen / 2);
    if (r < 0.5) {
      d += `L${r1(x)},${r1(y)}`;
      continue;
    }
    const ax = x - ((x - px) / inLen) * r;
    const ay = y - ((y - py) / inLen) * r;
    const bx = x + ((nx - x) / outLen) * r;
    const by = y + ((ny - y) / outLen) * r;
    d += `L${r1(ax)},${r1(ay)}Q${r1(x)},${r1(y)} ${r1(bx)},${r1(by)}`;
  }
  return d;
}

/**
 * Adds an arrowhead marker to `defs` (its tip on the path's end point) and returns its
 * `url(#id)` reference. `cls` styles it (fill) from the stylesheet.
 */
export function arrowMarker(defs: SVGDefsElement, id: string, cls: string, size = 7): string {
  const m = svg(
    'marker',
    {
      id,
      class: cls,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: size,
      markerHeight: size,
      markerUnits: 'userSpaceOnUse',
      orient: 'auto',
    },
    defs,
  );
  svg('path', { d: 'M0,1 L10,5 L0,9 z' }, m);
  return `url(#${id})`;
}

/** Removes every child of an element. */
export function clear(el: Element): void {
  el.replaceChildren();
}
