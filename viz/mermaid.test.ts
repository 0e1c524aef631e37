import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { allStatecharts } from './export.ts';
import { mermaidText, toMermaid } from './mermaid.ts';
import { type Statechart, statechartOf } from './statechart.ts';

const ID = /^[A-Za-z0-9_]+$/;
const TEXT = /^[A-Za-z0-9 _.,()[\]/=!|+*'-]*$/;

/** The first pattern a line matches, with its groups. */
function match(line: string, ...patterns: RegExp[]): { index: number; groups: string[] } | null {
  for (const [index, p] of patterns.entries()) {
    const m = p.exec(line);
    if (m !== null) return { index, groups: m.slice(1) };
  }
  return null;
}

const COMPOSITE = /^state (\S+) \{$/;
const NAMED = /^state "([^"]*)" as (\S+)$/;
const PLAIN = /^(\w+)$/;
const NOTE = /^note right of (\S+)$/;
const EDGE = /^(\S+) --> (\S+)(?: : (.*))?$/;
const DESCRIPTION = /^(\S+) : (.*)$/;

/** The states a diagram declares: Mermaid id -> shown name. */
function declared(mermaid: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mermaid.split('\n').map((l) => l.trim())) {
    const m = match(line, COMPOSITE, NAMED, PLAIN);
    if (m === null) continue;
    const [id, name] = m.index === 1 ? [m.groups[1]!, m.groups[0]!] : [m.groups[0]!, m.groups[0]!];
    expect(out.has(id), `state ${id} declared twice`).toBe(false);
    out.set(id, name);
  }
  return out;
}

/** Checks the syntax rules the generator promises; returns the edge lines (`a --> b : label`). */
function checkSyntax(mermaid: string): string[] {
  const lines = mermaid.trimEnd().split('\n');
  expect(lines[0]).toBe('stateDiagram-v2');
  let depth = 0;
  let inNote = false;
  const edges: string[] = [];
  const seen = new Set<string>();
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    expect(depth, 'braces balanced').toBeGreaterThanOrEqual(0);
    if (line === '}' || line === '--' || line === 'end note') {
      if (line === 'end note') inNote = false;
      continue;
    }
    expect(seen.has(raw), `duplicate line: ${raw}`).toBe(false);
    seen.add(raw);
    if (inNote) {
      expect(line).toMatch(TEXT);
      continue;
    }
    const m = match(line, NOTE, EDGE, DESCRIPTION, NAMED, COMPOSITE, PLAIN);
    expect(m, `not a statement the generator writes: ${line}`).not.toBeNull();
    const [a, b, c] = m!.groups;
    switch (m!.index) {
      case 0: // note right of id
        expect(a).toMatch(ID);
        inNote = true;
        break;
      case 1: // a --> b : label
        for (const end of [a!, b!]) if (end !== '[*]') expect(end).toMatch(ID);
        if (c !== undefined) expect(c).toMatch(TEXT);
        if (a !== '[*]' && b !== '[*]') edges.push(line);
        break;
      case 2: // id : description
        expect(a).toMatch(ID);
        expect(b).toMatch(TEXT);
        break;
      case 3: // state "name" as id
        expect(a).toMatch(TEXT);
        expect(b).toMatch(ID);
        break;
      default: // state id {, id
        expect(a).toMatch(ID);
    }
  }
  expect(depth).toBe(0);
  expect(inNote).toBe(false);
  return edges;
}

const keyOf = (id: string) => id.slice(id.lastIndexOf('.') + 1);

describe('toMermaid: every engine', () => {
  for (const chart of allStatecharts()) {
    it(`${chart.engine}: valid stateDiagram-v2 with every state and transition`, () => {
      const mermaid = toMermaid(chart);
      const edges = checkSyntax(mermaid);
      const names = declared(mermaid);
      expect(names.size).toBe(chart.states.length);
      expect([...names.values()].sort()).toEqual(
        chart.states.map((s) => (s.parent === null ? keyOf(s.id).replace(/\W/g, '_') : keyOf(s.id))).sort(),
      );
      // every transition that leaves its state is an edge; the machines here have no two alike
      expect(edges.length).toBe(chart.transitions.filter((t) => t.internal !== true).length);
      // every compound state starts somewhere
      const initials = mermaid.split('\n').filter((l) => l.trim().startsWith('[*] -->'));
      expect(initials.length).toBe(chart.states.filter((s) => s.initial !== undefined).length);
      // what is handled in place is shown once per state, not as edges
      for (const t of chart.transitions.filter((x) => x.internal === true)) {
        expect(mermaid).toContain(t.event);
      }
    });
  }

  it('consensus: its height phases, and its round machine labelled with the lines of Algorithm 1', () => {
    const engine = toMermaid(allStatecharts().find((c) => c.engine === 'consensus')!);
    expect(engine).toContain('    [*] --> awaitingPreviousRoot\n');
    expect(engine).toContain('    inHeight --> awaitingAppRoot : always [decided, its app root pending]\n');
    expect(engine).toContain('    net / receive message\n');
    const round = toMermaid(allStatecharts().find((c) => c.engine === 'consensus.round')!);
    expect(round).toContain(
      '    propose --> prevote : always [line 22 valid, unlocked or locked on it] / prevote id\n',
    );
    expect(round).toContain(
      '    prevote --> precommit : always [line 36 2f+1 prevotes for the valid proposal] / lock, precommit id\n',
    );
    expect(round).toContain(
      '    prevote --> precommit : timeout [line 61 timeoutPrevote of this round] / precommit nil\n',
    );
    for (const chart of [engine, round]) {
      expect(chart).not.toContain('inline guard');
      expect(chart).not.toContain('/ handle');
    }
  });

  it('executor: a transition out of a compound state is drawn from it', () => {
    const mermaid = toMermaid(allStatecharts().find((c) => c.engine === 'executor')!);
    expect(mermaid).toMatch(/^ {4}executing --> sealing : always \[blockDone\] \(from decode\)$/m);
    expect(mermaid).not.toMatch(/^\s*decode --> sealing/m);
  });
});

describe('toMermaid: structure', () => {
  const machine = createMachine({
    id: 'odd-machine',
    initial: 'state',
    states: {
      state: { on: { 'go:now;x': { target: 'default' }, 'in-place': { actions: 'noop' } } },
      default: {
        type: 'parallel',
        states: {
          left: { initial: 'a', states: { a: { on: { next: 'b' } }, b: { type: 'final' } } },
          right: {
            initial: 'a',
            states: { a: { on: { out: '#odd-machine.note' } }, h: { type: 'history' } },
          },
        },
      },
      note: { on: { back: { target: 'state', guard: ({ context }) => context !== undefined } } },
    },
  });
  const chart: Statechart = statechartOf(machine, { name: 'odd', inputs: {}, outputs: {} });
  const mermaid = toMermaid(chart);

  it('escapes ids Mermaid would read as keywords, and names that are not ids', () => {
    checkSyntax(mermaid);
    const names = declared(mermaid);
    expect(names.size).toBe(chart.states.length);
    expect(mermaid).toContain('state odd_machine {');
    expect(mermaid).toContain('state "state" as odd_machine_state');
    expect(mermaid).toContain('state odd_machine_default {');
    expect(mermaid).toContain('state "note" as odd_machine_note');
    // the second `a` is not the first one
    expect(mermaid).toContain('state "a" as odd_machine_default_right_a');
    expect(mermaid).toContain('odd_machine_state --> odd_machine_default : go now x');
    expect(mermaid).toContain('odd_machine_state : in-place / noop');
  });

  it('draws parallel regions, final and history states, and transitions across regions', () => {
    expect(mermaid).toMatch(/state left \{[\s\S]*\n {6}--\n {6}state right \{/);
    expect(mermaid).toContain('b --> [*]');
    expect(mermaid).toContain('state "history" as h');
    // `out` leaves the parallel state from inside a region: drawn from the parallel state
    expect(mermaid).toContain('odd_machine_default --> odd_machine_note : out (from a)');
    expect(mermaid).toContain('odd_machine_note --> odd_machine_state : back [inline guard]');
  });

  it('is deterministic', () => {
    expect(toMermaid(statechartOf(machine, { name: 'odd', inputs: {}, outputs: {} }))).toBe(mermaid);
  });
});

describe('mermaidText', () => {
  it('keeps only what Mermaid takes literally', () => {
    expect(mermaidText('a:b;c{d}#e%%f "g" <h> --> i')).toBe('a b c d e f g h - i');
    expect(mermaidText('direction LR')).toBe('direction_LR');
    expect(mermaidText('end note')).toBe('end_note');
    expect(mermaidText('x [guard] / act, other')).toBe('x [guard] / act, other');
  });
});
