/**
 * Intents at a glance (issue 17): per node running intent gossip, the intents in its pool with the
 * signed route each came by (node names where the page knows the key, ending at this node: how it
 * travelled the overlay),
 * and, on a solver, the rings its last batches matched (each solution's pairs in order, give → want).
 * Hidden while no node runs intent gossip.
 */
import type { IntentsInfo } from '../protocol.ts';
import type { Model } from './model.ts';
import { html } from './svg.ts';

/** `swap/v1/<give>/<want>` as `give→want` (short asset names); other topics as they are. */
export function pairOf(topic: string): string {
  const m = /^swap\/v1\/([0-9a-f]+)\/([0-9a-f]+)$/.exec(topic);
  return m === null ? topic : `${m[1]!.slice(0, 4)}→${m[2]!.slice(0, 4)}`;
}

/**
 * A solution's topics as the rings they close (`a→b→c→a; d→e→d`): a batch settles whole rings of
 * give → want pairs; pairs that close none (another application's topics) are listed as they are.
 */
export function ringOf(topics: readonly string[]): string {
  const left: [string, string][] = [];
  const other: string[] = [];
  for (const t of topics) {
    const m = /^swap\/v1\/([0-9a-f]+)\/([0-9a-f]+)$/.exec(t);
    if (m === null) other.push(t);
    else left.push([m[1]!.slice(0, 4), m[2]!.slice(0, 4)]);
  }
  const rings: string[] = [];
  while (left.length > 0) {
    const [start, first] = left.shift()!;
    const ring = [start, first];
    let at = first;
    while (at !== start) {
      const k = left.findIndex(([give]) => give === at);
      if (k < 0) break;
      at = left.splice(k, 1)[0]![1];
      ring.push(at);
    }
    rings.push(ring.join('→'));
  }
  return [...rings, ...other].join('; ');
}

export class IntentsView {
  private key = '';

  constructor(
    private readonly model: Model,
    private readonly panel: HTMLElement,
    private readonly body: HTMLElement,
  ) {}

  update(): void {
    const shown: [string, IntentsInfo][] = [];
    for (const n of this.model.nodes) {
      const info = this.model.status.get(n.node)?.intents;
      if (info !== undefined) shown.push([n.node, info]);
    }
    this.panel.hidden = shown.length === 0;
    // routes name nodes by key: show the names of the nodes on this page
    const names = new Map(shown.map(([node, info]) => [info.self, node]));
    const nameOf = (key: string) => names.get(key) ?? key.slice(0, 8);
    const key = JSON.stringify(shown);
    if (key === this.key) return;
    this.key = key;
    const frag = document.createDocumentFragment();
    for (const [node, info] of shown) {
      const block = html('div', { class: 'intents-node', 'data-node': node }, frag);
      html('h3', undefined, block, `${node} · ${info.poolSize} pooled`);
      if (info.pool.length > 0) {
        const table = html('table', { class: 'intents-table' }, block);
        const head = html('tr', undefined, table);
        for (const c of ['intent', 'pair', 'route']) html('th', { class: 'intents-head' }, head, c);
        for (const p of info.pool) {
          const tr = html('tr', undefined, table);
          const cell = { class: 'intents-cell' };
          html('td', cell, tr, p.id);
          html('td', cell, tr, pairOf(p.topic));
          html('td', cell, tr, p.local ? 'submitted here' : [...p.route.map(nameOf), node].join(' → '));
        }
      }
      for (const s of [...info.solved].reverse())
        html('div', { class: 'intents-solved' }, block, `batch ${s.batch} @${s.height}: ${ringOf(s.topics)}`);
    }
    this.body.replaceChildren(frag);
  }
}
