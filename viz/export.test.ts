import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { wirePipelineApp } from '../assembly/assemble.ts';
import { consensusEngine } from '../engines/consensus/engine.ts';
import { digestEngine } from '../engines/digest/engine.ts';
import { gossipEngine } from '../engines/gossip/engine.ts';
import { createSolverEngine } from '../engines/solver/engine.ts';
import { buildExampleGraph } from '../runtime/example/graph.ts';
import { EngineGraph } from '../runtime/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { MemoryStorage } from '../storage/memory.ts';
import {
  allStatecharts,
  type ExportFormat,
  engineDefinitions,
  exportStatecharts,
  REGENERATE,
} from './export.ts';
import { toMermaid } from './mermaid.ts';

const STATECHARTS_MD = fileURLToPath(new URL('./STATECHARTS.md', import.meta.url));

/** The graphs nodes build (assembled as node/node.ts and sim/ do), not started. */
function nodeGraphs(): EngineGraph[] {
  const graph = (node: string) =>
    new EngineGraph({ node, scheduler: new SimScheduler(1), storage: new MemoryStorage() });
  const pipeline = (node: string, shards?: number) => {
    const g = graph(node);
    const consensus = g.add('consensus', consensusEngine, {
      chainId: 'viz',
      validators: [],
      genesisAppRoot: new Uint8Array(32),
    });
    wirePipelineApp(g, consensus, {
      instance: 'viz',
      validators: [],
      threshold: 1,
      ...(shards === undefined ? {} : { shards }),
    });
    return g;
  };
  const digest = graph('digest');
  const consensus = digest.add('consensus', consensusEngine, {
    chainId: 'viz',
    validators: [],
    genesisAppRoot: new Uint8Array(32),
  });
  const app = digest.add('digest', digestEngine);
  digest.connect(consensus.out.committed, app.in.committed);
  // intent gossip feeding a solver, as the simulator's overlay runs gossip: no node wires them yet
  const gossip = graph('gossip');
  const g = gossip.add('gossip', gossipEngine, { overlay: 'viz', filter: { topics: [], where: [] } });
  const solver = gossip.add(
    'solver',
    createSolverEngine(() => undefined),
    {},
  );
  gossip.connect(g.out.intents, solver.in.intents);
  gossip.connect(g.out.gone, solver.in.gone);
  return [
    pipeline('serial'),
    pipeline('sharded', 3),
    digest,
    gossip,
    buildExampleGraph(new SimScheduler(1), new Inspector(), 1),
  ];
}

describe('allStatecharts', () => {
  const charts = allStatecharts();

  it('has every engine definition once, by name', () => {
    expect(charts.map((c) => c.engine)).toEqual([
      'consensus',
      'consensus.round',
      'mempool',
      'decryptor',
      'executor',
      'executor-coordinator',
      'executor-shard',
      'digest',
      'gossip',
      'solver',
      'producer',
      'worker',
      'collector',
      'peer',
    ]);
    // each engine's chart, then the charts of the machines its core runs (parts), right after it;
    // then the machines outside the engine graph (the peer session)
    expect(engineDefinitions().map((d) => d.name)).toEqual(
      charts.filter((c) => c.partOf === undefined && c.runBy === undefined).map((c) => c.engine),
    );
    expect(charts.find((c) => c.engine === 'consensus.round')?.partOf).toBe('consensus');
    expect(charts.find((c) => c.engine === 'peer')?.runBy).toContain('peer/host.ts');
  });

  it("covers every engine of a node's graphs, with the graph's own machine", () => {
    const byName = new Map(charts.map((c) => [c.engine, c]));
    const seen = new Set<string>();
    for (const g of nodeGraphs()) {
      const description = g.describe();
      for (const e of description.engines) {
        seen.add(e.definition);
        const chart = byName.get(e.definition);
        expect(
          chart,
          `engine definition "${e.definition}" (${g.node}/${e.name}) has no statechart`,
        ).toBeDefined();
        // the machine the graph runs has the chart's states (its toJSON lists them by id)
        const ids: string[] = [];
        const walk = (s: { id: string; states: Record<string, unknown> }) => {
          ids.push(s.id);
          for (const c of Object.values(s.states)) walk(c as typeof s);
        };
        walk(e.machine as { id: string; states: Record<string, unknown> });
        expect(ids).toEqual(chart!.states.map((s) => s.id));
        // and the chart's ports (the coordinator's shard ports depend on the shard count)
        if (e.definition !== 'executor-coordinator') {
          expect(chart!.inputs).toEqual(e.inputs.map((p) => ({ name: p.name, schema: p.schema })));
          expect(chart!.outputs).toEqual(e.outputs.map((p) => ({ name: p.name, schema: p.schema })));
        }
      }
    }
    const engines = charts
      .filter((c) => c.partOf === undefined && c.runBy === undefined)
      .map((c) => c.engine);
    expect([...seen].sort()).toEqual(engines.sort());
  });
});

describe('exportStatecharts', () => {
  it('json: pretty-printed, parses back to the model', () => {
    const json = exportStatecharts('json');
    expect(json.startsWith('[\n  {\n    "engine": "consensus",')).toBe(true);
    expect(JSON.parse(json)).toStrictEqual(allStatecharts());
  });

  it('mermaid: a Markdown document with one diagram per engine, headed by its name and ports', () => {
    const md = exportStatecharts('mermaid');
    const charts = allStatecharts();
    const headings = [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(['Engines', ...charts.map((c) => c.engine)]);
    const blocks = [...md.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(blocks).toEqual(charts.map(toMermaid));
    for (const c of charts) {
      const section = md.slice(md.indexOf(`## ${c.engine}\n`));
      for (const p of [...c.inputs, ...c.outputs])
        expect(section).toContain(`- \`${p.name}\`: \`${p.schema}\``);
    }
    expect(md).toContain(REGENERATE);
  });

  it('is deterministic', () => {
    for (const format of ['json', 'mermaid'] as const) {
      expect(exportStatecharts(format)).toBe(exportStatecharts(format));
    }
  });

  it('refuses an unknown format', () => {
    expect(() => exportStatecharts('svg' as ExportFormat)).toThrow(/unknown export format "svg"/);
  });
});

describe('viz/STATECHARTS.md', () => {
  it('is generated from the machines as they are now', () => {
    const onDisk = readFileSync(STATECHARTS_MD, 'utf8');
    expect(
      onDisk === exportStatecharts('mermaid'),
      `viz/STATECHARTS.md is out of date with the engines' machines; regenerate it with: ${REGENERATE}`,
    ).toBe(true);
  });

  it('names every guard: the document has no anonymous guard anywhere', () => {
    expect(readFileSync(STATECHARTS_MD, 'utf8')).not.toContain('inline guard');
  });
});
