/**
 * Automatic layouts for the visualiser, computed in Node with ELK (elkjs) so the page only draws:
 * statecharts (`layoutChart`) and a node's engine graph (`layoutGraph`), in the shapes of
 * `viz/protocol.ts`. Everything is absolute (ELK's `json.shapeCoords`/`json.edgeCoords: ROOT`)
 * and rounded to 0.1 px. ELK is deterministic for the same input order and seed, and the inputs
 * are built in the charts' and graphs' own order, so the same chart always gives the same layout.
 *
 * Sizes are estimated for a 12 px monospace-ish font (`CHAR` px per character, `LINE` px per
 * line). A state's box has room for its label and, below it, one line per internal transition
 * (`event [guard]`, as `transitionLabel` writes it): the page lists those inside the state. A
 * compound state's header (label and internal lines) is padding above its children. Transitions
 * between the same two states are one arrow whose label has one line per transition, in order.
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type {
  ElkEdgeSection,
  ElkExtendedEdge,
  ElkLabel,
  ElkNode,
  ElkPort,
  LayoutOptions,
} from 'elkjs/lib/elk-api.js';
import {
  type Box,
  type ChartLayout,
  type ChartStateLayout,
  type ChartTransitionLayout,
  type EdgeInfo,
  type GraphLayout,
  type NodeInfo,
  type Point,
  transitionLabel,
} from './protocol.ts';
import type { ChartTransition, Statechart } from './statechart.ts';

/** px per character of the estimated font */
export const CHAR = 7.5;
/** px per line of text */
export const LINE = 16;
/** px per character of a transition's label on its arrow (the page draws those at 10.5 px) */
export const LABEL_CHAR = 6.6;

const STATE_MIN_WIDTH = 80;
const STATE_HEIGHT = 32;
/** horizontal room around a state's text */
const TEXT_PAD = 12;
/** a compound state's padding around its children (besides the header) */
const COMPOUND_PAD = 16;
/** an engine box has its name and two status lines, such as this one */
const ENGINE_STATUS_SAMPLE = '12.3 msg/s · mailbox 4';
const ENGINE_HEIGHT = 56;

// elk.bundled.js is CommonJS whose typings say `export default`; under NodeNext that default is
// the module object, and the constructor is its `default` (which the bundle also sets at runtime).
const elk = new ELK.default();

const COMMON: LayoutOptions = {
  'elk.algorithm': 'layered',
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
  'elk.randomSeed': '1',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.spacing.edgeLabel': '4',
  'elk.layered.spacing.edgeNodeBetweenLayers': '20',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '12',
  // cycles (most charts have them) are broken by a depth-first search from the first node listed,
  // so a chart reads down from its initial state and a graph from its first engine
  // (`MODEL_ORDER` would say so directly but fails with INCLUDE_CHILDREN: eclipse-elk/elk#1182)
  'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST',
};

const textWidth = (text: string): number => Math.ceil(text.length * CHAR);
const round = (v: number): number => Math.round(v * 10) / 10 || 0; // `|| 0`: no -0
const point = (p: { x: number; y: number }): Point => [round(p.x), round(p.y)];
const labelOf = (text: string): ElkLabel => ({ text, width: textWidth(text) + 8, height: LINE });

function boxOf(n: ElkNode): Box {
  return { x: round(n.x ?? 0), y: round(n.y ?? 0), width: round(n.width ?? 0), height: round(n.height ?? 0) };
}

/** An edge's route: its sections joined, repeated points dropped. */
function routeOf(sections: readonly ElkEdgeSection[] | undefined): Point[] {
  const out: Point[] = [];
  for (const s of sections ?? []) {
    for (const p of [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]) {
      const q = point(p);
      const last = out.at(-1);
      if (last === undefined || last[0] !== q[0] || last[1] !== q[1]) out.push(q);
    }
  }
  return out;
}

/** The centre of an edge's first label, if ELK placed it. */
function labelCentre(e: ElkExtendedEdge): Point | undefined {
  const l = e.labels?.[0];
  if (l?.x === undefined || l.y === undefined) return undefined;
  return point({ x: l.x + (l.width ?? 0) / 2, y: l.y + (l.height ?? 0) / 2 });
}

/** The centre of line `line` of an edge's first label (one line per transition on the arrow). */
function labelLine(e: ElkExtendedEdge, line: number): Point | undefined {
  const l = e.labels?.[0];
  if (l?.x === undefined || l.y === undefined) return undefined;
  return point({ x: l.x + (l.width ?? 0) / 2, y: l.y + LINE * (line + 0.5) });
}

/** Every node of an ELK graph by id, the graph itself included. */
function nodesById(root: ElkNode): Map<string, ElkNode> {
  const out = new Map<string, ElkNode>();
  const visit = (n: ElkNode): void => {
    out.set(n.id, n);
    for (const c of n.children ?? []) visit(c);
  };
  visit(root);
  return out;
}

/** Every edge of an ELK graph by id, wherever it is declared. */
function edgesById(root: ElkNode): Map<string, ElkExtendedEdge> {
  const out = new Map<string, ElkExtendedEdge>();
  const visit = (n: ElkNode): void => {
    for (const e of n.edges ?? []) out.set(e.id, e);
    for (const c of n.children ?? []) visit(c);
  };
  visit(root);
  return out;
}

// ------------------------------------------------------------------ statecharts

const GRAPH = 'graph';
const stateNode = (i: number): string => `s${i}`;
const transitionEdge = (i: number): string => `t${i}`;

// ELK options are per graph, not inherited: every compound state gets these too
const CHART: LayoutOptions = {
  ...COMMON,
  'elk.direction': 'DOWN',
  'elk.spacing.nodeNode': '24',
  'elk.layered.spacing.nodeNodeBetweenLayers': '32',
};

/** Lays out a statechart top-down, compound states containing their children. */
export async function layoutChart(chart: Statechart): Promise<ChartLayout> {
  const index = new Map(chart.states.map((s, i) => [s.id, i]));
  const at = (id: string): number => {
    const i = index.get(id);
    if (i === undefined) throw new Error(`layoutChart ${chart.engine}: unknown state "${id}"`);
    return i;
  };
  // children in document order, but the initial one first (see `cycleBreaking` above)
  const children = new Map<string | null, number[]>();
  for (const [i, s] of chart.states.entries()) {
    const initial = s.parent !== null && chart.states[at(s.parent)]!.initial === s.id;
    const siblings = children.get(s.parent) ?? [];
    children.set(s.parent, initial ? [i, ...siblings] : [...siblings, i]);
  }
  const internal = new Map<string, ChartTransition[]>();
  for (const t of chart.transitions) {
    if (t.internal) internal.set(t.from, [...(internal.get(t.from) ?? []), t]);
  }
  const ancestors = (id: string): string[] => {
    const out: string[] = [];
    for (let s: string | null = id; s !== null; s = chart.states[at(s)]!.parent) out.push(s);
    return out;
  };
  // an edge belongs in the innermost node holding both ends (or in an end holding the other), as
  // ELK's conventions want and its JSON import does not fix (eclipse/elk#776); `null` is the graph
  const container = (t: ChartTransition): string | null => {
    if (t.from === t.to) return chart.states[at(t.from)]!.parent;
    const up = ancestors(t.from);
    const down = new Set(ancestors(t.to));
    return up.find((s) => down.has(s)) ?? null;
  };
  // transitions between the same two states share one arrow, their labels stacked on it (one
  // line each): side by side, a machine with many rules per step would be mostly labels
  const arrows = new Map<string, { edge: ElkExtendedEdge; lines: number[] }>();
  /** each transition's arrow and its line on the arrow's label */
  const arrowOf = new Map<number, { edge: string; line: number }>();
  for (const [i, t] of chart.transitions.entries()) {
    if (t.internal) continue;
    const key = `${t.from}\u0000${t.to}`;
    let arrow = arrows.get(key);
    if (arrow === undefined) {
      const edge: ElkExtendedEdge = {
        id: transitionEdge(i),
        sources: [stateNode(at(t.from))],
        targets: [stateNode(at(t.to))],
      };
      arrow = { edge, lines: [] };
      arrows.set(key, arrow);
    }
    arrowOf.set(i, { edge: arrow.edge.id, line: arrow.lines.length });
    arrow.lines.push(i);
  }
  // edges to states later in the document first: the depth-first cycle breaking follows them, so
  // a chart reads down in the order its states are written (a protocol's steps, in order)
  const edges = new Map<string | null, ElkExtendedEdge[]>();
  const byTarget = [...arrows.values()].sort(
    (a, b) => at(chart.transitions[a.lines[0]!]!.to) - at(chart.transitions[b.lines[0]!]!.to),
  );
  for (const { edge, lines } of byTarget) {
    const texts = lines.map((i) => transitionLabel(chart.transitions[i]!));
    edge.labels = [
      {
        text: texts.join('\n'),
        width: Math.ceil(Math.max(...texts.map((t) => t.length)) * LABEL_CHAR) + 8,
        height: LINE * texts.length,
      },
    ];
    const c = container(chart.transitions[lines[0]!]!);
    edges.set(c, [...(edges.get(c) ?? []), edge]);
  }

  const build = (i: number): ElkNode => {
    const s = chart.states[i]!;
    const lines = [s.id.split('.').at(-1)!, ...(internal.get(s.id) ?? []).map(transitionLabel)];
    const width = Math.max(STATE_MIN_WIDTH, ...lines.map((l) => textWidth(l) + 2 * TEXT_PAD));
    const height = STATE_HEIGHT + LINE * (lines.length - 1);
    const kids = children.get(s.id) ?? [];
    const node: ElkNode = { id: stateNode(i), edges: edges.get(s.id) ?? [] };
    if (kids.length === 0) return { ...node, width, height };
    const header = height;
    return {
      ...node,
      children: kids.map(build),
      layoutOptions: {
        ...CHART,
        'elk.padding': `[top=${header},left=${COMPOUND_PAD},bottom=${COMPOUND_PAD},right=${COMPOUND_PAD}]`,
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${width}, ${header + STATE_HEIGHT})`,
      },
    };
  };

  const input: ElkNode = {
    id: GRAPH,
    layoutOptions: {
      ...CHART,
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    },
    children: (children.get(null) ?? []).map(build),
    edges: edges.get(null) ?? [],
  };
  const graph = await elk.layout(input);

  const nodes = nodesById(graph);
  const routed = edgesById(graph);
  const states: ChartStateLayout[] = chart.states.map((s, i) => {
    const n = nodes.get(stateNode(i))!;
    const parentInitial = s.parent === null ? undefined : chart.states[at(s.parent)]!.initial;
    return {
      id: s.id,
      label: s.id.split('.').at(-1)!,
      type: s.type,
      parent: s.parent,
      initial: parentInitial === s.id,
      box: boxOf(n),
    };
  });
  const transitions: ChartTransitionLayout[] = chart.transitions.map((t, i) => {
    const out: ChartTransitionLayout = {
      index: i,
      id: t.id,
      from: t.from,
      to: t.to,
      event: t.event,
      points: [],
    };
    if (t.guard !== undefined) out.guard = t.guard;
    if (t.internal) {
      out.internal = true;
      return out;
    }
    const arrow = arrowOf.get(i)!;
    const e = routed.get(arrow.edge)!;
    out.points = routeOf(e.sections);
    const l = labelLine(e, arrow.line);
    if (l !== undefined) out.label = l;
    return out;
  });
  return {
    definition: chart.engine,
    ...(chart.partOf === undefined ? {} : { partOf: chart.partOf }),
    id: chart.id,
    width: round(graph.width ?? 0),
    height: round(graph.height ?? 0),
    states,
    transitions,
  };
}

// ------------------------------------------------------------------ engine graphs

/** An edge's label: `from.port→to.port`. */
export const edgeText = (e: EdgeInfo): string => `${e.from.port}→${e.to.port}`;

/** Lays out a node's engine graph left to right: engines as boxes, a routed edge per connection. */
export async function layoutGraph(node: NodeInfo): Promise<GraphLayout> {
  const index = new Map(node.engines.map((e, i) => [e.name, i]));
  const at = (engine: string): number => {
    const i = index.get(engine);
    if (i === undefined) throw new Error(`layoutGraph ${node.node}: unknown engine "${engine}"`);
    return i;
  };
  // one ELK port per engine port that has a connection (outputs east, inputs west), so the edges
  // between two engines leave and enter apart
  const ports = node.engines.map(() => new Map<string, ElkPort>());
  const port = (engine: string, side: 'in' | 'out', name: string): string => {
    const i = at(engine);
    const key = `${side} ${name}`;
    let p = ports[i]!.get(key);
    if (p === undefined) {
      p = {
        id: `n${i}.${side}${ports[i]!.size}`,
        width: 0,
        height: 0,
        layoutOptions: { 'elk.port.side': side === 'in' ? 'WEST' : 'EAST' },
      };
      ports[i]!.set(key, p);
    }
    return p.id;
  };
  const edges: ElkExtendedEdge[] = node.edges.map((e, i) => ({
    id: `e${i}`,
    sources: [port(e.from.engine, 'out', e.from.port)],
    targets: [port(e.to.engine, 'in', e.to.port)],
    labels: [labelOf(edgeText(e))],
  }));
  const minWidth = textWidth(ENGINE_STATUS_SAMPLE) + 2 * TEXT_PAD;
  const children: ElkNode[] = node.engines.map((e, i) => {
    const width = Math.max(minWidth, textWidth(e.name) + 2 * TEXT_PAD);
    return {
      id: `n${i}`,
      width,
      height: ENGINE_HEIGHT,
      ports: [...ports[i]!.values()],
      layoutOptions: {
        'elk.portConstraints': 'FIXED_SIDE',
        // many ports on one side make the box taller rather than crowd it
        'elk.nodeSize.constraints': '[PORTS, MINIMUM_SIZE]',
        'elk.nodeSize.minimum': `(${width}, ${ENGINE_HEIGHT})`,
      },
    };
  });

  const input: ElkNode = {
    id: GRAPH,
    layoutOptions: {
      ...COMMON,
      'elk.direction': 'RIGHT',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
      'elk.spacing.nodeNode': '32',
      'elk.layered.spacing.nodeNodeBetweenLayers': '48',
    },
    children,
    edges,
  };
  const graph = await elk.layout(input);

  const nodes = nodesById(graph);
  const routed = edgesById(graph);
  return {
    node: node.node,
    width: round(graph.width ?? 0),
    height: round(graph.height ?? 0),
    engines: node.engines.map((e, i) => ({ name: e.name, box: boxOf(nodes.get(`n${i}`)!) })),
    edges: node.edges.map((e, i) => {
      const r = routed.get(`e${i}`)!;
      const out: GraphLayout['edges'][number] = {
        from: { ...e.from },
        to: { ...e.to },
        points: routeOf(r.sections),
      };
      const l = labelCentre(r);
      if (l !== undefined) out.label = l;
      return out;
    }),
  };
}
