import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { allStatecharts } from './export.ts';
import { CHAR, edgeText, LINE, layoutChart, layoutGraph } from './layout.ts';
import {
  type Box,
  type ChartLayout,
  type GraphLayout,
  type NodeInfo,
  type Point,
  transitionLabel,
  transitionText,
} from './protocol.ts';
import { type Statechart, statechartOf } from './statechart.ts';

/** slack for ELK's rounding (coordinates are rounded to 0.1) */
const EPS = 0.5;

const inside = (inner: Box, outer: Box): boolean =>
  inner.x >= outer.x - EPS &&
  inner.y >= outer.y - EPS &&
  inner.x + inner.width <= outer.x + outer.width + EPS &&
  inner.y + inner.height <= outer.y + outer.height + EPS;

const overlap = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width - EPS &&
  b.x < a.x + a.width - EPS &&
  a.y < b.y + b.height - EPS &&
  b.y < a.y + a.height - EPS;

/** Distance from a point to a box (0 inside it). */
function distance([x, y]: Point, b: Box): number {
  const dx = Math.max(b.x - x, 0, x - (b.x + b.width));
  const dy = Math.max(b.y - y, 0, y - (b.y + b.height));
  return Math.hypot(dx, dy);
}

const inDrawing = ([x, y]: Point, l: { width: number; height: number }): boolean =>
  x >= -EPS && y >= -EPS && x <= l.width + EPS && y <= l.height + EPS;

/** Every number in a layout, for the rounding check. */
function numbers(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.flatMap(numbers);
  if (v !== null && typeof v === 'object') return Object.values(v).flatMap(numbers);
  return [];
}

/** What every chart layout must satisfy, whatever ELK chose. */
function checkChart(chart: Statechart, layout: ChartLayout): void {
  expect(layout.definition).toBe(chart.engine);
  expect(layout.id).toBe(chart.id);
  expect(layout.width).toBeGreaterThan(0);
  expect(layout.height).toBeGreaterThan(0);

  // states: each once, in the chart's order, with their label, parent and initial flag
  expect(layout.states.map((s) => s.id)).toEqual(chart.states.map((s) => s.id));
  const boxes = new Map(layout.states.map((s) => [s.id, s.box]));
  for (const [i, s] of layout.states.entries()) {
    const c = chart.states[i]!;
    expect(s.label).toBe(c.id.split('.').at(-1));
    expect(s.parent).toBe(c.parent);
    expect(s.type).toBe(c.type);
    const parent = chart.states.find((p) => p.id === c.parent);
    expect(s.initial, s.id).toBe(parent !== undefined && parent.initial === c.id);
    expect(s.box.width, s.id).toBeGreaterThanOrEqual(s.label.length * CHAR);
    expect(inside(s.box, { x: 0, y: 0, width: layout.width, height: layout.height }), s.id).toBe(true);
    if (s.parent !== null) {
      expect(inside(s.box, boxes.get(s.parent)!), `${s.id} inside ${s.parent}`).toBe(true);
    }
  }
  for (const a of layout.states) {
    for (const b of layout.states) {
      if (a.id < b.id && a.parent === b.parent) {
        expect(overlap(a.box, b.box), `${a.id} overlaps ${b.id}`).toBe(false);
      }
    }
  }

  // transitions: each index once, in order; internal ones unrouted, the others routed end to end
  expect(layout.transitions.map((t) => t.index)).toEqual(chart.transitions.map((_, i) => i));
  for (const t of layout.transitions) {
    const c = chart.transitions[t.index]!;
    expect({ from: t.from, to: t.to, event: t.event, guard: t.guard, internal: t.internal }).toEqual({
      from: c.from,
      to: c.to,
      event: c.event,
      guard: c.guard,
      internal: c.internal,
    });
    const name = `${chart.engine} #${t.index} ${t.from} -> ${t.to} ${transitionText(t)}`;
    if (t.internal) {
      expect(t.points, name).toEqual([]);
      expect(t.label, name).toBeUndefined();
      continue;
    }
    expect(t.points.length, name).toBeGreaterThanOrEqual(2);
    for (const p of t.points) expect(inDrawing(p, layout), `${name}: ${p}`).toBe(true);
    expect(distance(t.points[0]!, boxes.get(t.from)!), `${name} starts at its source`).toBeLessThan(2);
    expect(distance(t.points.at(-1)!, boxes.get(t.to)!), `${name} ends at its target`).toBeLessThan(2);
    expect(t.label, name).toBeDefined();
    expect(inDrawing(t.label!, layout), name).toBe(true);
  }

  for (const v of numbers(layout)) expect(Math.round(v * 10) / 10).toBe(v);
}

describe('layoutChart', () => {
  const charts = allStatecharts();

  it.each(charts.map((c) => [c.engine, c] as const))('lays out %s', async (_, chart) => {
    checkChart(chart, await layoutChart(chart));
  });

  it('routes self-loops, edges into and out of compound states, and edges at the root', async () => {
    const machine = createMachine({
      id: 'odd',
      initial: 'a',
      on: { reset: { target: '.a', reenter: true }, again: { target: '#odd', reenter: true }, ping: {} },
      states: {
        p: {
          type: 'parallel',
          on: { back: 'a.h' },
          states: {
            l: { initial: 'l1', states: { l1: { on: { n: 'l2' } }, l2: { type: 'final' } } },
            r: { initial: 'r1', states: { r1: { on: { loop: { target: 'r1', reenter: true } } } } },
          },
        },
        a: {
          initial: 'x',
          on: { in: '.y', go: 'p', stay: { target: 'a' } },
          states: {
            x: { on: { up: { target: '#odd.a', reenter: true } } },
            y: { type: 'final' },
            h: { type: 'history' },
          },
        },
      },
    });
    const chart = statechartOf(machine, { name: 'odd', inputs: {}, outputs: {} });
    expect(chart.transitions.filter((t) => t.internal).length).toBe(2);
    expect(chart.transitions.filter((t) => t.from === t.to && !t.internal).length).toBe(2);
    checkChart(chart, await layoutChart(chart));
  });

  it('draws the initial state first, wherever it is listed', async () => {
    const machine = createMachine({
      id: 'cycle',
      initial: 'a',
      states: { c: { on: { x: 'a' } }, b: { on: { y: 'c' } }, a: { on: { z: 'b' } } },
    });
    const layout = await layoutChart(statechartOf(machine, { name: 'cycle', inputs: {}, outputs: {} }));
    const y = (id: string): number => layout.states.find((s) => s.id === id)!.box.y;
    expect(y('cycle.a')).toBeLessThan(y('cycle.b'));
    expect(y('cycle.b')).toBeLessThan(y('cycle.c'));
  });

  it('draws transitions between the same two states as one arrow, their labels stacked in order', async () => {
    const machine = createMachine({
      id: 'stack',
      initial: 'a',
      states: {
        a: {
          on: { go: 'b', jump: 'b' },
          always: [
            { guard: 'rule 1: first', target: 'b' },
            { guard: 'rule 2: second', target: 'c' },
          ],
        },
        b: {},
        c: {},
      },
    });
    const chart = statechartOf(machine, { name: 'stack', inputs: {}, outputs: {} });
    const layout = await layoutChart(chart);
    checkChart(chart, layout);
    const toB = layout.transitions.filter((t) => t.to === 'stack.b');
    expect(toB.map(transitionLabel)).toEqual(['go', 'jump', 'always [rule 1]']);
    for (const t of toB) expect(t.points).toEqual(toB[0]!.points);
    for (const [i, t] of toB.entries()) {
      expect(t.label![0]).toBe(toB[0]!.label![0]);
      expect(t.label![1]).toBeCloseTo(toB[0]!.label![1] + i * LINE, 0);
    }
    const toC = layout.transitions.find((t) => t.to === 'stack.c')!;
    expect(toC.points).not.toEqual(toB[0]!.points);
  });

  it('reads a guard `<rule>: <what it checks>` by its rule on the arrow, in full elsewhere', () => {
    const t = { event: 'always', guard: 'line 36: 2f+1 prevotes for the valid proposal' };
    expect(transitionLabel(t)).toBe('always [line 36]');
    expect(transitionText(t)).toBe('always [line 36: 2f+1 prevotes for the valid proposal]');
    expect(transitionLabel({ event: 'tick', guard: 'isTick' })).toBe('tick [isTick]');
    expect(transitionLabel({ event: 'tick' })).toBe('tick');
  });

  it("lays out the round machine down in the protocol's order: propose, prevote, precommit, decided", async () => {
    const layout = await layoutChart(charts.find((c) => c.engine === 'consensus.round')!);
    expect(layout.partOf).toBe('consensus');
    const y = (state: string): number => layout.states.find((s) => s.id === `round.${state}`)!.box.y;
    const order = ['notStarted', 'propose', 'prevote', 'precommit', 'decided'];
    for (let i = 1; i < order.length; i++) expect(y(order[i - 1]!), order[i]).toBeLessThan(y(order[i]!));
  });

  it('gives internal transitions room inside their state', async () => {
    const shard = charts.find((c) => c.engine === 'executor-shard')!;
    const layout = await layoutChart(shard);
    const serving = layout.states.find((s) => s.id === 'executor-shard.serving')!;
    const applying = layout.states.find((s) => s.id === 'executor-shard.applying')!;
    expect(serving.box.height).toBeGreaterThan(applying.box.height);
    expect(serving.box.width).toBeGreaterThanOrEqual('request [isSealed]'.length * CHAR);
  });

  it('is deterministic', async () => {
    const first = await Promise.all(charts.map(layoutChart));
    const again = await Promise.all(charts.map(layoutChart));
    expect(again).toEqual(first);
    expect(JSON.stringify(again)).toBe(JSON.stringify(first));
  });

  it('rejects a transition to an unknown state', async () => {
    const chart = charts.find((c) => c.engine === 'worker')!;
    const broken: Statechart = {
      ...chart,
      transitions: [{ id: 'worker.ready#9', from: 'worker.ready', to: 'worker.gone', event: 'x' }],
    };
    await expect(layoutChart(broken)).rejects.toThrow(/unknown state "worker.gone"/);
  });
});

describe('layoutGraph', () => {
  const engine = (name: string): NodeInfo['engines'][number] => ({
    name,
    definition: name,
    inputs: [],
    outputs: [],
  });
  const edge = (from: string, fromPort: string, to: string, toPort: string): NodeInfo['edges'][number] => ({
    from: { engine: from, port: fromPort },
    to: { engine: to, port: toPort },
  });
  const node: NodeInfo = {
    node: 'validator-0',
    engines: [engine('mempool'), engine('consensus'), engine('digest'), engine('a-rather-long-engine-name')],
    edges: [
      edge('mempool', 'txs', 'consensus', 'txs'),
      edge('mempool', 'net', 'consensus', 'net'),
      edge('consensus', 'committed', 'digest', 'committed'),
      edge('digest', 'appRoot', 'consensus', 'appRoot'),
      edge('consensus', 'committed', 'mempool', 'committed'),
    ],
  };

  function checkGraph(info: NodeInfo, layout: GraphLayout): void {
    expect(layout.node).toBe(info.node);
    expect(layout.engines.map((e) => e.name)).toEqual(info.engines.map((e) => e.name));
    const drawing = { x: 0, y: 0, width: layout.width, height: layout.height };
    for (const e of layout.engines) {
      expect(inside(e.box, drawing), e.name).toBe(true);
      expect(e.box.width, e.name).toBeGreaterThanOrEqual(e.name.length * CHAR);
      expect(e.box.height, e.name).toBeGreaterThanOrEqual(56);
    }
    for (const a of layout.engines) {
      for (const b of layout.engines) {
        if (a.name < b.name) expect(overlap(a.box, b.box), `${a.name} overlaps ${b.name}`).toBe(false);
      }
    }
    const boxes = new Map(layout.engines.map((e) => [e.name, e.box]));
    expect(layout.edges.map(({ from, to }) => ({ from, to }))).toEqual(info.edges);
    for (const e of layout.edges) {
      const name = `${e.from.engine}.${e.from.port} -> ${e.to.engine}.${e.to.port}`;
      expect(e.points.length, name).toBeGreaterThanOrEqual(2);
      for (const p of e.points) expect(inDrawing(p, layout), name).toBe(true);
      expect(distance(e.points[0]!, boxes.get(e.from.engine)!), name).toBeLessThan(2);
      expect(distance(e.points.at(-1)!, boxes.get(e.to.engine)!), name).toBeLessThan(2);
      expect(e.label, name).toBeDefined();
      expect(inDrawing(e.label!, layout), name).toBe(true);
    }
    for (const v of numbers(layout)) expect(Math.round(v * 10) / 10).toBe(v);
  }

  it('lays out engines as boxes and every connection as an edge', async () => {
    const layout = await layoutGraph(node);
    checkGraph(node, layout);
    // the two connections between mempool and consensus are drawn apart
    const [txs, net] = layout.edges;
    expect(txs!.points[0]).not.toEqual(net!.points[0]);
    expect(txs!.points.at(-1)).not.toEqual(net!.points.at(-1));
    expect(edgeText(txs!)).toBe('txs→txs');
  });

  it('grows an engine with many connected ports, and keeps one without any', async () => {
    const ports = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const many: NodeInfo = {
      node: 'n',
      engines: [engine('src'), engine('sink'), engine('alone')],
      edges: ports.map((p) => edge('src', p, 'sink', p)),
    };
    const layout = await layoutGraph(many);
    checkGraph(many, layout);
    expect(layout.engines[0]!.box.height).toBeGreaterThan(56);
  });

  it('is deterministic', async () => {
    expect(await layoutGraph(node)).toEqual(await layoutGraph(node));
  });

  it('rejects an edge to an unknown engine', async () => {
    const broken: NodeInfo = { ...node, edges: [edge('mempool', 'txs', 'nowhere', 'txs')] };
    await expect(layoutGraph(broken)).rejects.toThrow(/unknown engine "nowhere"/);
  });
});
