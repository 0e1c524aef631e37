/**
 * A statechart as a Mermaid `stateDiagram-v2`.
 *
 * - The machine's root is a composite state named after the machine; compound states nest, each
 *   with `[*] --> <initial>`; a parallel state's regions are separated by `--`; a final state has
 *   `--> [*]`.
 * - Transition labels read `event [guard] / action, action`; eventless ones read `always`; a guard
 *   written as an anonymous function is `[inline guard]`.
 * - Mermaid keeps one state per id and places it in the last block that mentions it, so every
 *   transition is drawn in the block of its endpoints' nearest common ancestor, between the
 *   children of that block that contain them; the label then says `(from x)` / `(to y)`.
 * - What a state does without leaving it (internal handlers, entry, exit, invoked actors) is one
 *   note on that state, events with the same guard and actions on one line, so diagrams stay small.
 * - Ids are the state keys where Mermaid's lexer accepts them (letters, digits, `_`; no keyword),
 *   otherwise a sanitised path; atomic states with such an id get `state "key" as id`. Labels and
 *   notes keep to characters Mermaid's parser and renderer take literally.
 */
import { type ChartState, type ChartTransition, INLINE, type Statechart } from './statechart.ts';

/** Words Mermaid's state diagram lexer reads as keywords when they start a statement. */
const RESERVED = new Set([
  'state',
  'note',
  'class',
  'classdef',
  'scale',
  'direction',
  'acctitle',
  'accdescr',
  'statediagram',
  'hide',
  'end',
  'as',
  'click',
  'style',
  'linkstyle',
]);

const safeId = (s: string): string => {
  const id = s.replace(/[^A-Za-z0-9_]/g, '_');
  return id === '' ? '_' : id;
};
const reserved = (id: string): boolean => RESERVED.has(id.toLowerCase()) || /^default/i.test(id);

/** Text for a label or note: characters Mermaid takes literally, no `--`, no `direction XX`. */
export function mermaidText(s: string): string {
  return s
    .replace(/[^A-Za-z0-9 _.,()[\]/=!|+*'-]/g, ' ')
    .replace(/-{2,}/g, '-')
    .replace(/\b(direction)(\s+)(TB|BT|RL|LR)\b/gi, '$1_$3')
    .replace(/\bend(\s+)note\b/gi, 'end_note')
    .replace(/\s+/g, ' ')
    .trim();
}

const keyOf = (id: string): string => id.slice(id.lastIndexOf('.') + 1);

function guardLabel(guard: string | undefined): string {
  if (guard === undefined) return '';
  return guard === INLINE ? ' [inline guard]' : ` [${guard}]`;
}

function transitionLabel(t: ChartTransition): string {
  const actions = t.actions === undefined ? '' : ` / ${t.actions.join(', ')}`;
  return `${t.event}${guardLabel(t.guard)}${actions}`;
}

/** Internal handlers grouped by guard and actions, events joined, in first-appearance order. */
function noteLines(state: ChartState, internal: ChartTransition[]): string[] {
  const lines: string[] = [];
  if (state.entry !== undefined) lines.push(`entry / ${state.entry.join(', ')}`);
  if (state.exit !== undefined) lines.push(`exit / ${state.exit.join(', ')}`);
  for (const src of state.invoke ?? []) lines.push(`invoke ${src}`);
  const groups = new Map<string, { events: string[]; rest: string }>();
  for (const t of internal) {
    const rest = `${guardLabel(t.guard)}${t.actions === undefined ? '' : ` / ${t.actions.join(', ')}`}`;
    const g = groups.get(rest);
    if (g === undefined) groups.set(rest, { events: [t.event], rest });
    else if (!g.events.includes(t.event)) g.events.push(t.event);
  }
  for (const g of groups.values()) lines.push(`${g.events.join(', ')}${g.rest}`);
  return lines.map(mermaidText).filter((l) => l !== '');
}

export function toMermaid(chart: Statechart): string {
  const byId = new Map(chart.states.map((s) => [s.id, s]));
  const children = new Map<string, ChartState[]>();
  for (const s of chart.states) {
    if (s.parent === null) continue;
    const list = children.get(s.parent) ?? [];
    list.push(s);
    children.set(s.parent, list);
  }
  const root = chart.states.find((s) => s.parent === null);
  if (root === undefined) throw new Error(`toMermaid(${chart.engine}): the chart has no root state`);

  // Mermaid ids: the key where it is safe and unused, else the sanitised path, made unique
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const s of chart.states) {
    let id = safeId(keyOf(s.id));
    if (used.has(id) || reserved(id)) id = safeId(s.id.replaceAll('.', '_'));
    if (reserved(id)) id = `s_${id}`;
    const base = id;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    ids.set(s.id, id);
  }
  const mid = (stateId: string): string => ids.get(stateId)!;

  const ancestors = (id: string): string[] => {
    const out: string[] = [];
    for (let s = byId.get(id); s !== undefined; s = s.parent === null ? undefined : byId.get(s.parent)) {
      out.push(s.id);
    }
    return out; // self first, root last
  };
  /** The child of `scope` on the way down to `id` (or `id` itself). */
  const childToward = (scope: string, id: string): string => {
    const chain = ancestors(id);
    return chain[chain.indexOf(scope) - 1]!;
  };

  // place every drawn transition in a scope (a block), internal ones in notes
  const scoped = new Map<string, string[]>();
  const internal = new Map<string, ChartTransition[]>();
  for (const t of chart.transitions) {
    if (t.internal === true) {
      const list = internal.get(t.from) ?? [];
      list.push(t);
      internal.set(t.from, list);
      continue;
    }
    const up = new Set(ancestors(t.to));
    // the nearest proper ancestor of both ends, never a parallel state (its regions are separate)
    let scope = ancestors(t.from)
      .slice(1)
      .find((a) => up.has(a) && a !== t.to);
    while (scope !== undefined && byId.get(scope)!.type === 'parallel')
      scope = byId.get(scope)!.parent ?? undefined;
    let label = transitionLabel(t);
    let line: string;
    if (scope === undefined) {
      // a transition of the root itself (to the root, or between its parallel regions)
      line = `${mid(root.id)} --> ${mid(root.id)}`;
      if (t.from !== root.id) label += ` (from ${keyOf(t.from)})`;
      if (t.to !== root.id) label += ` (to ${keyOf(t.to)})`;
      if (t.reenter === true) label += ' (reenter)';
      scope = '';
    } else {
      const from = childToward(scope, t.from);
      const to = childToward(scope, t.to);
      if (from !== t.from) label += ` (from ${keyOf(t.from)})`;
      if (to !== t.to) label += ` (to ${keyOf(t.to)})`;
      if (t.reenter === true) label += ' (reenter)';
      line = `${mid(from)} --> ${mid(to)}`;
    }
    const text = mermaidText(label);
    const list = scoped.get(scope) ?? [];
    const full = text === '' ? line : `${line} : ${text}`;
    if (!list.includes(full)) list.push(full);
    scoped.set(scope, list);
  }

  const out: string[] = ['stateDiagram-v2'];
  /** Atomic states list what they do in place as description lines; composite ones in a note. */
  const emitNote = (s: ChartState, indent: string): void => {
    const lines = noteLines(s, internal.get(s.id) ?? []);
    if (lines.length === 0) return;
    if (!children.has(s.id)) {
      for (const l of lines) out.push(`${indent}${mid(s.id)} : ${l}`);
      return;
    }
    out.push(`${indent}note right of ${mid(s.id)}`);
    for (const l of lines) out.push(`${indent}  ${l}`);
    out.push(`${indent}end note`);
  };
  const emitState = (s: ChartState, indent: string): void => {
    const id = mid(s.id);
    const kids = children.get(s.id) ?? [];
    if (kids.length > 0) {
      out.push(`${indent}state ${id} {`);
      const inner = `${indent}  `;
      if (s.initial !== undefined) out.push(`${inner}[*] --> ${mid(s.initial)}`);
      kids.forEach((k, i) => {
        if (s.type === 'parallel' && i > 0) out.push(`${inner}--`);
        emitState(k, inner);
        emitNote(k, inner);
      });
      for (const line of scoped.get(s.id) ?? []) out.push(`${inner}${line}`);
      out.push(`${indent}}`);
      return;
    }
    const key = keyOf(s.id);
    if (s.type === 'history') {
      out.push(`${indent}state "${s.history === 'deep' ? 'deep history' : 'history'}" as ${id}`);
    } else if (id !== key) {
      out.push(`${indent}state "${mermaidText(key)}" as ${id}`);
    } else {
      out.push(`${indent}${id}`);
    }
    if (s.type === 'final') out.push(`${indent}${id} --> [*]`);
  };

  emitState(root, '  ');
  emitNote(root, '  ');
  for (const line of scoped.get('') ?? []) out.push(`  ${line}`);
  return `${out.join('\n')}\n`;
}
