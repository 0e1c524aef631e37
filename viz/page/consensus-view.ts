/**
 * Consensus at a glance: a row per node (up, height, round, step, locks, last block) and a grid
 * of the blocks committed at the latest heights, per node, coloured by hash so that agreement
 * (one colour per column) and forks (two) show at once.
 */
import { colourOf, shortHash } from './format.ts';
import type { Model } from './model.ts';
import { html, setText } from './svg.ts';

const HEIGHTS = 12;
/** px per height column of the grid, and for the node names */
const CELL = 46;
const NAMES = 44;
const COLUMNS = ['node', 'status', 'height', 'round', 'step', 'locked', 'valid', 'last block'] as const;

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
}

export class ConsensusView {
  private rows = new Map<string, Row>();
  private gridKey = '';

  constructor(
    private readonly model: Model,
    private readonly table: HTMLTableElement,
    private readonly grid: HTMLTableElement,
  ) {}

  rebuild(): void {
    this.rows.clear();
    this.gridKey = '';
    const head = html('thead');
    const htr = html('tr', undefined, head);
    for (const c of COLUMNS) html('th', undefined, htr, c);
    const body = html('tbody');
    for (const n of this.model.nodes) {
      const tr = html('tr', { 'data-node': n.node }, body);
      const cells = COLUMNS.map((c) => html('td', { class: `c-${c.replace(' ', '-')}` }, tr));
      setText(cells[0]!, n.node);
      this.rows.set(n.node, { tr, cells });
    }
    this.table.replaceChildren(head, body);
    this.update();
  }

  update(): void {
    let top: bigint | null = null;
    for (const st of this.model.status.values()) {
      const h = st.consensus?.height;
      if (h !== undefined && /^\d+$/.test(h) && (top === null || BigInt(h) > top)) top = BigInt(h);
    }
    for (const [node, row] of this.rows) {
      const st = this.model.status.get(node);
      const c = st?.consensus;
      const up = this.model.isUp(node);
      const [, status, height, round, step, locked, valid, last] = row.cells as [
        HTMLTableCellElement,
        ...HTMLTableCellElement[],
      ];
      row.tr.classList.toggle('down', !up);
      setText(status!, st === undefined ? '…' : up ? 'up' : 'down');
      status!.className = `c-status ${up ? 'ok' : 'bad'}`;
      const lag = c !== undefined && top !== null && /^\d+$/.test(c.height) ? top - BigInt(c.height) : 0n;
      setText(height!, c?.height ?? '–');
      height!.classList.toggle('lagging', lag >= 2n);
      height!.title = lag > 0n ? `${lag} behind the highest node` : '';
      setText(round!, c === undefined ? '–' : String(c.round));
      setText(step!, c?.step ?? '–');
      setText(
        locked!,
        c === undefined
          ? '–'
          : c.lockedRound < 0
            ? 'none'
            : `r${c.lockedRound} ${shortHash(c.lockedValue ?? '∅', 6)}`,
      );
      setText(
        valid!,
        c === undefined
          ? '–'
          : c.validRound < 0
            ? 'none'
            : `r${c.validRound} ${shortHash(c.validValue ?? '∅', 6)}`,
      );
      last!.title = c?.lastBlockHash ?? '';
      locked!.title = c?.lockedValue ?? '';
      valid!.title = c?.validValue ?? '';
      setText(last!, c === undefined || c.lastBlockHash === '' ? '–' : shortHash(c.lastBlockHash, 10));
      last!.style.color = c === undefined || c.lastBlockHash === '' ? '' : colourOf(c.lastBlockHash, 70);
      row.cells[0]!.title = c === undefined ? '' : c.self >= 0 ? `validator #${c.self}` : 'full node';
    }
    this.updateGrid();
  }

  private updateGrid(): void {
    // the latest heights, as many as fit (up to HEIGHTS), ending at the highest committed one
    let top: bigint | null = null;
    for (const m of this.model.commits.values()) {
      for (const h of m.keys()) if (top === null || BigInt(h) > top) top = BigInt(h);
    }
    const width = this.grid.parentElement?.clientWidth ?? 0;
    const count = Math.max(4, Math.min(HEIGHTS, Math.floor((width - NAMES) / CELL)));
    const heights: string[] = [];
    if (top !== null)
      for (let h = top - BigInt(count - 1); h <= top; h++) if (h >= 0n) heights.push(h.toString());
    const nodes = this.model.nodes.map((n) => n.node);
    const key = JSON.stringify([
      heights,
      nodes.map((n) => heights.map((h) => this.model.commits.get(n)?.get(h) ?? '')),
    ]);
    if (key === this.gridKey) return;
    this.gridKey = key;
    const head = html('thead');
    const htr = html('tr', undefined, head);
    html('th', undefined, htr, heights.length === 0 ? 'committed blocks' : 'height');
    for (const h of heights) html('th', undefined, htr, h);
    const body = html('tbody');
    // the hash most nodes committed at each height
    const majority = new Map<string, string>();
    for (const h of heights) {
      const counts = new Map<string, number>();
      for (const n of nodes) {
        const hash = this.model.commits.get(n)?.get(h);
        if (hash !== undefined) counts.set(hash, (counts.get(hash) ?? 0) + 1);
      }
      const best = [...counts].sort((a, b) => b[1] - a[1])[0];
      if (best !== undefined) majority.set(h, best[0]);
    }
    for (const n of nodes) {
      const tr = html('tr', { 'data-commit-node': n }, body);
      html('th', undefined, tr, n);
      for (const h of heights) {
        const hash = this.model.commits.get(n)?.get(h);
        const td = html('td', { 'data-height': h }, tr);
        if (hash === undefined) {
          td.className = 'missing';
          continue;
        }
        td.textContent = shortHash(hash, 5);
        td.title = `${n} committed ${hash} at height ${h}`;
        td.style.background = colourOf(hash, 34);
        td.style.borderColor = colourOf(hash, 55);
        if (majority.get(h) !== hash) td.classList.add('fork');
      }
    }
    if (heights.length === 0) {
      const tr = html('tr', undefined, body);
      html('td', { class: 'empty-cell' }, tr, 'no blocks committed yet');
    }
    this.grid.replaceChildren(head, body);
  }
}
