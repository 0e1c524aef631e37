/**
 * The statecharts of every engine a Fractal node (or the example graph) runs, read from their
 * machines, as JSON or as a Markdown document of Mermaid diagrams (viz/STATECHARTS.md).
 */

import { nodeMultievaluate } from '../assembly/vm.ts';
import { consensusEngine } from '../engines/consensus/engine.ts';
import { decryptorEngine } from '../engines/decryptor/engine.ts';
import { digestEngine } from '../engines/digest/engine.ts';
import { executorEngine } from '../engines/executor/engine.ts';
import { coordinatorEngine, shardEngine } from '../engines/executor/sharded.ts';
import { gossipEngine } from '../engines/gossip/engine.ts';
import { mempoolEngine } from '../engines/mempool/engine.ts';
import { createSolverEngine } from '../engines/solver/engine.ts';
import { peerMachine } from '../peer/machine.ts';
import type { EngineDefinition, PortSchemas } from '../runtime/engine.ts';
import { collectorEngine } from '../runtime/example/collector.ts';
import { producerEngine } from '../runtime/example/producer.ts';
import { workerEngine } from '../runtime/example/worker.ts';
import { toMermaid } from './mermaid.ts';
import { type Statechart, statechartOf, statechartOfEngine, statechartsOfParts } from './statechart.ts';

export type ExportFormat = 'mermaid' | 'json';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['mermaid', 'json'];

/** The sharded executor's coordinator has one request port per shard; it is described with this many. */
export const DESCRIBED_SHARDS = 2;

/** The command that regenerates viz/STATECHARTS.md. */
export const REGENERATE = 'npm run fractal -- viz export --out viz/STATECHARTS.md';

type AnyDefinition = EngineDefinition<PortSchemas, PortSchemas, unknown>;

/**
 * Every engine definition, once each: a node's pipeline, the sharded executor, the digest app, the
 * intent gossip and solver engines (not yet in a node's graph), the example graph.
 */
export function engineDefinitions(): AnyDefinition[] {
  const defs = [
    consensusEngine,
    mempoolEngine,
    decryptorEngine,
    executorEngine(nodeMultievaluate),
    coordinatorEngine(nodeMultievaluate, DESCRIBED_SHARDS),
    shardEngine,
    digestEngine,
    gossipEngine,
    // the chart is the engine's, whatever application solver it is handed
    createSolverEngine(() => undefined),
    producerEngine,
    workerEngine,
    collectorEngine,
  ] as unknown as AnyDefinition[];
  const names = defs.map((d) => d.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`engineDefinitions: "${twice}" is listed twice`);
  return defs;
}

/** The statecharts of machines outside the engine graph: the peer session. */
export function sessionStatecharts(): Statechart[] {
  return [
    {
      ...statechartOf(peerMachine, { name: 'peer', inputs: {}, outputs: {} }),
      runBy:
        "the peer host (peer/host.ts), one machine per connection (per dialled address for an outbound link), for the live transport (node/net) and for the simulator's sessions (sim/sessions.ts)",
    },
  ];
}

/** The statechart of every engine definition, in `engineDefinitions()` order, then the peer session's. */
export function allStatecharts(): Statechart[] {
  return [
    ...engineDefinitions().flatMap((d) => [statechartOfEngine(d), ...statechartsOfParts(d)]),
    ...sessionStatecharts(),
  ];
}

const code = (s: string): string => `\`${s.replaceAll('`', "'")}\``;

function markdown(charts: Statechart[]): string {
  const out: string[] = [
    '# Engine statecharts',
    '',
    `<!-- Generated from the engines' XState machines by \`${REGENERATE}\`; do not edit by hand. -->`,
    '',
    "Every engine's XState machine, read from the machine itself (`viz/statechart.ts`) and drawn by",
    '`viz/mermaid.ts`. A test fails when this file no longer matches the machines; regenerate it with',
    `\`${REGENERATE}\` (\`fractal viz export --format json\` gives the same charts as data).`,
    '',
    '- The outer box is the machine; `[*]` marks initial states.',
    '- An arrow reads `event [guard] / actions`; `always` is an eventless transition, taken as soon as',
    '  its guard holds; every guard and action is named (a test fails on an anonymous one), and an',
    '  unguarded `always` after guarded ones is the fallback taken when none of them holds.',
    '- What a state does without leaving it (entry and exit actions, invoked actors, the events it',
    '  handles in place as `events [guard] / actions`) is listed inside its box, or in a note for a',
    '  state with children; what the outer box handles in place, it handles in every state.',
    "- Ports are the engine's typed inputs and outputs with their wire schemas; `timeout` events come",
    '  from the runtime (`context.deadlines`), not from a port.',
    `- The executor coordinator is shown with ${DESCRIBED_SHARDS} shards: it has one \`shard<i>\` output per shard.`,
    '',
    '## Engines',
    '',
    ...charts.map((c) => `- [${c.engine}](#${c.engine.replaceAll('.', '')})`),
  ];
  for (const c of charts) {
    out.push('', `## ${c.engine}`, '');
    if (c.id !== c.engine) out.push(`Machine ${code(c.id)}.`, '');
    if (c.runBy !== undefined) {
      out.push(
        `Not an engine: the machine of one peer session, run by ${c.runBy}. Its events come from the`,
        "socket, the timers and the host's session registry, each with the time; its effects are values",
        'the host performs (send bytes, close the socket with a reason, arm a timer, report the session',
        'up or down, score an offence).',
        '',
        '```mermaid',
        toMermaid(c).trimEnd(),
        '```',
      );
      continue;
    }
    if (c.partOf !== undefined) {
      out.push(
        `Run by the ${code(c.partOf)} engine's core on every input it takes (one step per input, with`,
        "XState's pure `transition`); its events are the core's inputs, not ports, and its outputs are",
        'what it asks the engine to do (sign and send, schedule a timeout, decide).',
        '',
        '```mermaid',
        toMermaid(c).trimEnd(),
        '```',
      );
      continue;
    }
    out.push('Inputs:', '');
    if (c.inputs.length === 0) out.push('- none');
    for (const p of c.inputs) out.push(`- ${code(p.name)}: ${code(p.schema)}`);
    out.push('', 'Outputs:', '');
    if (c.outputs.length === 0) out.push('- none');
    for (const p of c.outputs) out.push(`- ${code(p.name)}: ${code(p.schema)}`);
    out.push('', '```mermaid', toMermaid(c).trimEnd(), '```');
  }
  return `${out.join('\n')}\n`;
}

/** Every engine's statechart: `json` (pretty-printed `Statechart[]`) or `mermaid` (a Markdown document). */
export function exportStatecharts(format: ExportFormat): string {
  const charts = allStatecharts();
  switch (format) {
    case 'json':
      return `${JSON.stringify(charts, null, 2)}\n`;
    case 'mermaid':
      return markdown(charts);
    default:
      throw new Error(`unknown export format "${String(format)}": use ${EXPORT_FORMATS.join(' or ')}`);
  }
}
