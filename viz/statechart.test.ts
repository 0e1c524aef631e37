import { describe, expect, it } from 'vitest';
import { and, assign, createMachine, fromPromise, not, setup, stateIn } from 'xstate';
import { consensusStateOf } from '../engines/consensus/machine.ts';
import { phaseOf } from '../engines/consensus/round-machine.ts';
import { machineOf } from '../runtime/engine.ts';
import { NO_FAULTS } from '../sim/faults.ts';
import { PipelineCluster } from '../sim/pipeline.ts';
import { engineDefinitions, sessionStatecharts } from './export.ts';
import {
  describeHost,
  INLINE,
  type Statechart,
  statechartOf,
  statechartOfEngine,
  statechartsOfParts,
} from './statechart.ts';

/** A state node as the tests read it: XState's own fields, walked independently of statechart.ts. */
interface Node {
  id: string;
  type: string;
  parent?: Node;
  states: Record<string, Node>;
  initial?: { target: readonly Node[] };
  transitions: Map<string, { target?: readonly Node[]; reenter: boolean }[]>;
  always?: { target?: readonly Node[]; reenter: boolean }[];
}

function nodesOf(root: Node): Node[] {
  return [root, ...Object.values(root.states).flatMap(nodesOf)];
}

/** State ids as `machine.toJSON()` (what `EngineGraph.describe()` reports) lists them. */
function definitionIds(def: { id: string; states: Record<string, unknown> }): string[] {
  return [
    def.id,
    ...Object.values(def.states).flatMap((s) =>
      definitionIds(s as { id: string; states: Record<string, unknown> }),
    ),
  ];
}

const noPorts = { name: 'test', inputs: {}, outputs: {} };

describe('statechartOf: every engine', () => {
  for (const def of engineDefinitions()) {
    describe(def.name, () => {
      const machine = machineOf(def, describeHost(def.name));
      const chart = statechartOfEngine(def);
      const nodes = nodesOf(machine.root as unknown as Node);

      it("has the machine's state nodes, with their parents, types and initial states", () => {
        expect(chart.engine).toBe(def.name);
        expect(chart.id).toBe(machine.id);
        expect(chart.states.map((s) => s.id)).toEqual(nodes.map((n) => n.id));
        expect(chart.states.map((s) => s.id)).toEqual(definitionIds(machine.toJSON() as never));
        for (const [i, n] of nodes.entries()) {
          const s = chart.states[i]!;
          expect(s.parent).toBe(n.parent?.id ?? null);
          expect(s.type).toBe(n.type);
          if (n.type === 'compound') expect(s.initial).toBe(n.initial!.target[0]!.id);
          else expect(s.initial).toBeUndefined();
        }
      });

      it('has every transition of the machine, and no other', () => {
        let count = 0;
        for (const n of nodes) {
          const all = [
            ...[...n.transitions.entries()].flatMap(([event, ts]) => ts.map((t) => ({ event, t }))),
            ...(n.always ?? []).map((t) => ({ event: 'always', t })),
          ];
          for (const { event, t } of all) {
            const targets = t.target === undefined || t.target.length === 0 ? [n] : t.target;
            for (const target of targets) {
              count++;
              const found = chart.transitions.filter(
                (x) => x.from === n.id && x.to === target.id && x.event === event,
              );
              expect(found.length, `${n.id} --${event}--> ${target.id}`).toBeGreaterThan(0);
            }
          }
        }
        expect(chart.transitions.length).toBe(count);
      });

      it("lists the engine's ports with their wire schema names", () => {
        expect(chart.inputs).toEqual(
          Object.entries(def.inputs).map(([name, schema]) => ({ name, schema: schema.name })),
        );
        expect(chart.outputs).toEqual(
          Object.entries(def.outputs).map(([name, schema]) => ({ name, schema: schema.name })),
        );
      });
    });
  }
});

describe('statechartOf: every engine and part', () => {
  it('names every guard: no transition of any engine or part has an inline guard', () => {
    for (const def of engineDefinitions()) {
      for (const c of [statechartOfEngine(def), ...statechartsOfParts(def)]) {
        for (const t of c.transitions)
          expect(t.guard, `${c.engine}: ${t.from} -> ${t.to} on ${t.event}`).not.toBe(INLINE);
      }
    }
  });

  it('names every action: no engine or part has a catch-all `handle` or an inline action', () => {
    for (const def of engineDefinitions()) {
      for (const c of [statechartOfEngine(def), ...statechartsOfParts(def)]) {
        for (const t of c.transitions) {
          const where = `${c.engine}: ${t.from} -> ${t.to} on ${t.event}`;
          expect(t.actions ?? [], where).not.toContain('handle');
          expect(t.actions ?? [], where).not.toContain(INLINE);
        }
        for (const st of c.states)
          for (const a of [...(st.entry ?? []), ...(st.exit ?? [])])
            expect(a, `${c.engine}: ${st.id}`).not.toBe(INLINE);
      }
    }
  });
});

describe('statechartOf: decryptor', () => {
  const def = engineDefinitions().find((d) => d.name === 'decryptor')!;
  const chart = statechartOfEngine(def);
  const rules = (from: string) =>
    chart.transitions
      .filter((t) => t.from === `decryptor.${from}`)
      .map((t) => [t.event, t.guard ?? null, t.actions ?? [], t.to ?? null]);

  it('has the key epoch as its phases: restoring, keying (deal, complain, derive), keyed, keyless', () => {
    expect(chart.states.map((st) => st.id)).toEqual([
      'decryptor',
      'decryptor.restoring',
      'decryptor.keying',
      'decryptor.keying.dealing',
      'decryptor.keying.complaining',
      'decryptor.keying.checked',
      'decryptor.keying.deriving',
      'decryptor.keyed',
      'decryptor.keyed.ready',
      'decryptor.keyed.awaitingShares',
      'decryptor.keyed.checked',
      'decryptor.keyless',
    ]);
  });

  it('logs and checks every new block first, deals only while dealing, derives the key at the window end', () => {
    expect(rules('keying.dealing')).toEqual([
      [
        'committed',
        'a new height',
        ['log the block', 'check its envelopes', 'deal, complain about bad shares'],
        'decryptor.keying.checked',
      ],
    ]);
    expect(rules('keying.checked').map(([, guard, , to]) => [guard, to])).toEqual([
      ['the complaint window ends with this block', 'decryptor.keying.deriving'],
      ['the deal window is still open', 'decryptor.keying.dealing'],
      [null, 'decryptor.keying.complaining'],
    ]);
    expect(rules('keying.deriving').map(([, guard, , to]) => [guard, to])).toEqual([
      ['t dealers qualified: the epoch key', 'decryptor.keyed.checked'],
      [null, 'decryptor.keyless'],
    ]);
    for (const phase of ['keyed.ready', 'keyed.awaitingShares'])
      expect(rules(phase)[0]![2]).toEqual([
        'log the block',
        'check its envelopes',
        'queue its encrypted batch',
        'count shares, decrypt in committed order',
        'submit my shares',
      ]);
    expect(rules('keyed.checked').map(([, guard, actions, to]) => [guard, actions, to])).toEqual([
      ['a batch waits for t shares', ['order the block'], 'decryptor.keyed.awaitingShares'],
      [null, ['order the block'], 'decryptor.keyed.ready'],
    ]);
  });
});

describe('statechartOf: consensus', () => {
  const def = engineDefinitions().find((d) => d.name === 'consensus')!;
  const chart = statechartOfEngine(def);
  const [round] = statechartsOfParts(def);

  it('has the height-level phases, starting before the height is entered', () => {
    expect(chart.states.map((s) => s.id)).toEqual([
      'consensus',
      'consensus.awaitingPreviousRoot',
      'consensus.inHeight',
      'consensus.awaitingAppRoot',
    ]);
    expect(chart.states[0]!.initial).toBe('consensus.awaitingPreviousRoot');
  });

  it('routes each input port to its own named action, in every phase', () => {
    const internal = chart.transitions.filter((t) => t.internal === true);
    expect(internal.map((t) => [t.event, t.actions])).toEqual([
      ['net', ['receive message']],
      ['txs', ['take transactions']],
      ['appRoot', ['record app root']],
      ['timeout', ['fire timer']],
    ]);
  });

  it('names every guard: no inline guard, no catch-all action, in the engine or its round machine', () => {
    for (const c of [chart, round!]) {
      for (const t of c.transitions) {
        expect(t.guard, `${c.engine}: ${t.from} -> ${t.to} on ${t.event}`).not.toBe(INLINE);
        expect(t.actions ?? []).not.toContain('handle');
        expect(t.actions ?? []).not.toContain(INLINE);
      }
    }
  });

  it('draws the round machine: the steps of a round and the rules of Algorithm 1 by line', () => {
    expect(round!.engine).toBe('consensus.round');
    expect(round!.partOf).toBe('consensus');
    expect(round!.states.map((s) => s.id)).toEqual([
      'round',
      'round.notStarted',
      'round.propose',
      'round.prevote',
      'round.precommit',
      'round.decided',
    ]);
    const edge = (from: string, to: string, event: string, line: number) =>
      round!.transitions.find(
        (t) =>
          t.from === `round.${from}` &&
          t.to === `round.${to}` &&
          t.event === event &&
          t.guard?.startsWith(`line ${line}:`),
      );
    // the paper's moves, each labelled with its line
    expect(edge('propose', 'prevote', 'always', 22)?.actions).toEqual(['prevote id']);
    expect(edge('propose', 'prevote', 'always', 28)?.actions).toEqual(['prevote id']);
    expect(edge('prevote', 'precommit', 'always', 36)?.actions).toEqual(['lock, precommit id']);
    expect(edge('prevote', 'precommit', 'always', 44)?.actions).toEqual(['precommit nil']);
    expect(edge('propose', 'prevote', 'timeout', 57)?.actions).toEqual(['prevote nil']);
    expect(edge('prevote', 'precommit', 'timeout', 61)?.actions).toEqual(['precommit nil']);
    expect(edge('precommit', 'propose', 'timeout', 65)?.actions).toEqual(['start the next round']);
    for (const from of ['propose', 'prevote', 'precommit']) {
      expect(edge(from, 'decided', 'always', 49)?.actions).toEqual(['decide']);
      expect(edge(from, 'propose', 'always', 55)?.actions).toEqual(['start that round']);
    }
    // a decided round only counts (late) votes
    expect(round!.transitions.filter((t) => t.from === 'round.decided')).toEqual([]);
  });
});

describe('statechartOf: the peer session machine', () => {
  const chart = sessionStatecharts().find((c) => c.engine === 'peer')!;
  const edge = (from: string, to: string, event: string) =>
    chart.transitions.filter((t) => t.from === `peer.${from}` && t.to === `peer.${to}` && t.event === event);

  it("has the session's phases: dialing, handshaking (hello, auth, admitting), open, retiring, banned", () => {
    expect(chart.runBy).toBeDefined();
    expect(chart.states.map((s) => s.id)).toEqual([
      'peer',
      'peer.idle',
      'peer.dialing',
      'peer.handshaking',
      'peer.handshaking.hello',
      'peer.handshaking.auth',
      'peer.handshaking.admitting',
      'peer.open',
      'peer.retiring',
      'peer.ended',
      'peer.backoff',
      'peer.parked',
      'peer.banned',
      'peer.closed',
    ]);
    expect(chart.states[0]!.initial).toBe('peer.idle');
    expect(chart.states.find((s) => s.id === 'peer.closed')!.type).toBe('final');
  });

  it('names every guard and action: no inline guard, no catch-all action, no anonymous always fan', () => {
    expect(chart.transitions.length).toBeGreaterThan(40);
    for (const t of chart.transitions) {
      const where = `peer: ${t.from} -> ${t.to} on ${t.event}`;
      expect(t.guard, where).not.toBe(INLINE);
      expect(t.actions ?? [], where).not.toContain(INLINE);
      expect(t.actions ?? [], where).not.toContain('handle');
      expect(t.actions ?? [], where).not.toContain('assign');
    }
    // an eventless transition is guarded by name, but for the last of its state (the fallback)
    for (const s of chart.states) {
      const always = chart.transitions.filter((t) => t.from === s.id && t.event === 'always');
      for (const t of always.slice(0, -1)) expect(t.guard, t.id).toBeDefined();
    }
    // a message is always read by a named rule: no unguarded handler of it anywhere
    for (const t of chart.transitions.filter((x) => x.event === 'message'))
      expect(t.guard, `${t.from} -> ${t.to}`).toBeDefined();
  });

  it('draws the protocol: dial, handshake, admission, session, retirement, bans and backoff', () => {
    expect(edge('idle', 'dialing', 'dial')[0]?.actions).toEqual(['open a socket']);
    expect(edge('idle', 'handshaking', 'accept')[0]?.actions).toEqual(['start as responder']);
    expect(edge('dialing', 'handshaking', 'socket-opened')[0]?.actions).toEqual(['start as initiator']);
    expect(edge('handshaking.hello', 'handshaking.auth', 'message')[0]?.guard).toBe('takes the hello');
    expect(edge('handshaking.auth', 'handshaking.admitting', 'message')[0]?.guard).toBe('proves an identity');
    expect(edge('handshaking.admitting', 'ended', 'admission').map((t) => t.guard)).toEqual([
      'the peer is ourselves',
      'not the pinned identity',
      'the identity is banned',
      'loses to the connection it duplicates',
      'no room for another peer',
    ]);
    expect(edge('handshaking.admitting', 'open', 'admission')[0]?.actions).toEqual(['open the session']);
    expect(edge('open', 'retiring', 'replaced')[0]?.actions).toEqual(['retire the connection']);
    expect(edge('open', 'banned', 'message')[0]?.guard).toBe('an offence');
    expect(edge('open', 'banned', 'penalised')).toHaveLength(1);
    expect(edge('handshaking', 'banned', 'message')[0]?.guard).toBe('an offence');
    expect(edge('open', 'ended', 'ping-due')[0]?.guard).toBe('silent past the idle timeout');
    expect(edge('retiring', 'ended', 'socket-closed')).toHaveLength(1);
    expect(edge('ended', 'backoff', 'always')[0]?.actions).toEqual(['schedule a redial']);
    expect(edge('ended', 'parked', 'always')[0]?.guard).toBe('the peer is connected elsewhere');
    expect(edge('backoff', 'dialing', 'dial')[0]?.actions).toEqual(['open a socket']);
    expect(edge('banned', 'dialing', 'dial')).toHaveLength(1);
    expect(edge('parked', 'backoff', 'peer-down')).toHaveLength(1);
    // nothing leaves the end
    expect(chart.transitions.filter((t) => t.from === 'peer.closed')).toEqual([]);
  });
});

describe('statechartOf: mempool', () => {
  const def = engineDefinitions().find((d) => d.name === 'mempool')!;
  const chart = statechartOfEngine(def);

  it('has the protocol phases: waiting (batch sent or due), admission, gossip, recheck, reaping', () => {
    expect(chart.states.map((s) => s.id)).toEqual([
      'mempool',
      'mempool.waiting',
      'mempool.waiting.batchSent',
      'mempool.waiting.batchDue',
      'mempool.admission',
      'mempool.gossip',
      'mempool.recheck',
      'mempool.reaping',
    ]);
    expect(chart.states[0]!.initial).toBe('mempool.waiting');
    expect(chart.states.find((s) => s.id === 'mempool.waiting')!.entry).toEqual([
      'arm the timers',
      'emit the effects',
    ]);
  });

  it('routes each input port to its own phase, by a named action', () => {
    const from = chart.transitions.filter((t) => t.from === 'mempool.waiting');
    expect(from.map((t) => [t.event, t.to, t.guard ?? null, t.actions])).toEqual([
      ['submit', 'mempool.admission', null, ['check the envelope']],
      ['net', 'mempool.gossip', null, ['read the peer message']],
      ['committed', 'mempool.recheck', null, ["take the block's envelopes out"]],
      ['epochKey', 'mempool.reaping', null, ['learn the epoch key']],
      ['timeout', 'mempool.reaping', 'the batch deadline', ['end the batch interval']],
      ['timeout', 'mempool.reaping', 'the gossip deadline', ['announce admissions, re-request overdue']],
    ]);
  });

  it('admits or refuses, pulls or serves, and reaps the batch by named rules', () => {
    const rules = (state: string) =>
      chart.transitions
        .filter((t) => t.from === `mempool.${state}`)
        .map((t) => [t.guard ?? null, t.actions ?? [], t.to]);
    expect(rules('admission')).toEqual([
      ['passes every check', ['pool it, announce it, reply admitted'], 'mempool.reaping'],
      [null, ['reply with the reason'], 'mempool.reaping'],
    ]);
    expect(rules('gossip')).toEqual([
      ['not a message of this instance', ['penalise the peer'], 'mempool.reaping'],
      ['an announcement', ['request the missing bodies'], 'mempool.reaping'],
      ['a request', ['serve the requested bodies'], 'mempool.reaping'],
      ['requested bodies', ['admit the pulled bodies'], 'mempool.reaping'],
    ]);
    expect(rules('recheck')).toEqual([[null, ['drop the expired and the unpayable'], 'mempool.reaping']]);
    expect(rules('reaping')).toEqual([
      ['pool changed within the batch interval', ['arm the batch deadline'], 'mempool.waiting.batchDue'],
      ['pool unchanged, the batch deadline armed', [], 'mempool.waiting.batchDue'],
      ['pool and its batch changed', ['send the batch to consensus'], 'mempool.waiting.batchSent'],
      [null, ['mark the batch current'], 'mempool.waiting.batchSent'],
    ]);
  });

  it('names every guard and action: no inline guard, no catch-all action', () => {
    expect(chart.transitions.length).toBeGreaterThan(0);
    for (const t of chart.transitions) {
      expect(t.guard, `mempool: ${t.from} -> ${t.to} on ${t.event}`).not.toBe(INLINE);
      expect(t.actions ?? []).not.toContain('handle');
      expect(t.actions ?? []).not.toContain(INLINE);
    }
    for (const s of chart.states)
      for (const a of [...(s.entry ?? []), ...(s.exit ?? [])]) expect(a).not.toBe(INLINE);
    // no eventless transition out of a phase an input waits in
    expect(
      chart.transitions.filter((t) => t.event === 'always' && t.from.startsWith('mempool.waiting')),
    ).toEqual([]);
  });
});

describe('statechartOf: the XState features', () => {
  const machine = setup({
    guards: {
      ready: () => true,
      above: (_, _params: { n: number }) => true,
    },
    actions: { log: () => {}, tick: () => {} },
    actors: { fetcher: fromPromise(async () => 1) },
    delays: { slow: 500 },
  }).createMachine({
    id: 'demo',
    initial: 'idle',
    entry: 'log',
    on: { reset: { target: '.idle', reenter: true } },
    states: {
      idle: {
        on: {
          go: { guard: 'ready', target: 'busy', actions: ['log', assign({})] },
          check: { guard: { type: 'above', params: { n: 3 } }, target: 'busy' },
          nope: { guard: not('ready'), actions: 'tick' },
          both: { guard: and(['ready', stateIn('#demo.idle')]), target: 'idle', reenter: true },
          stay: { target: 'idle' },
          quick: { guard: ({ event }) => event.type === 'quick', target: 'done' },
        },
        after: { 1000: 'busy', slow: { target: 'done' } },
      },
      busy: {
        invoke: { src: 'fetcher', onDone: 'work', onError: '#demo.done' },
        exit: 'log',
      },
      work: {
        type: 'parallel',
        states: {
          left: {
            initial: 'a',
            states: { a: { on: { next: 'b' } }, b: { always: { target: '#demo.done', actions: 'tick' } } },
          },
          right: { initial: 'x', states: { x: {}, hist: { type: 'history', history: 'deep' } } },
        },
      },
      done: { type: 'final' },
    },
  });
  const chart = statechartOf(machine, noPorts);
  const find = (from: string, event: string) =>
    chart.transitions.filter((t) => t.from === from && t.event === event);

  it('reads states: types, initial, history, entry, exit, invoke', () => {
    const s = new Map(chart.states.map((x) => [x.id, x]));
    expect(s.get('demo')).toEqual({
      id: 'demo',
      parent: null,
      type: 'compound',
      initial: 'demo.idle',
      entry: ['log'],
    });
    expect(s.get('demo.busy')).toMatchObject({ type: 'atomic', exit: ['log'], invoke: ['fetcher'] });
    expect(s.get('demo.work')).toEqual({ id: 'demo.work', parent: 'demo', type: 'parallel' });
    expect(s.get('demo.work.right.hist')).toMatchObject({ type: 'history', history: 'deep' });
    expect(s.get('demo.done')!.type).toBe('final');
    // `after` adds a raise (entry) and cancel (exit) to the state: not actions of the machine's author
    expect(s.get('demo.idle')!.entry).toBeUndefined();
    expect(s.get('demo.idle')!.exit).toBeUndefined();
  });

  it('names guards and actions', () => {
    expect(find('demo.idle', 'go')).toEqual([
      {
        id: 'demo.idle#0',
        from: 'demo.idle',
        to: 'demo.busy',
        event: 'go',
        guard: 'ready',
        actions: ['log', 'assign'],
      },
    ]);
    expect(find('demo.idle', 'check')[0]!.guard).toBe('above(n=3)');
    expect(find('demo.idle', 'nope')[0]).toMatchObject({
      from: 'demo.idle',
      to: 'demo.idle',
      event: 'nope',
      guard: 'not(ready)',
      actions: ['tick'],
      internal: true,
    });
    expect(find('demo.idle', 'both')[0]).toMatchObject({
      guard: 'and(ready, in(#demo.idle))',
      reenter: true,
    });
    expect(find('demo.idle', 'quick')[0]!.guard).toBe(INLINE);
  });

  it('reads internal, re-entering, delayed, eventless, done and error transitions', () => {
    expect(find('demo.idle', 'stay')[0]).toMatchObject({ to: 'demo.idle', internal: true });
    expect(find('demo', 'reset')[0]).toEqual({ id: 'demo#0', from: 'demo', to: 'demo.idle', event: 'reset' });
    expect(find('demo.idle', 'after 1000ms')[0]!.to).toBe('demo.busy');
    expect(find('demo.idle', 'after slow')[0]!.to).toBe('demo.done');
    expect(chart.transitions.filter((t) => t.from === 'demo.busy')).toEqual([
      { id: 'demo.busy#0', from: 'demo.busy', to: 'demo.work', event: 'done(fetcher)' },
      { id: 'demo.busy#1', from: 'demo.busy', to: 'demo.done', event: 'error(fetcher)' },
    ]);
    expect(find('demo.work.left.b', 'always')).toEqual([
      {
        id: 'demo.work.left.b#0',
        from: 'demo.work.left.b',
        to: 'demo.done',
        event: 'always',
        actions: ['tick'],
      },
    ]);
    // ids are unique per source and position; a transition with several targets shares its id
    const ids = chart.transitions.map((t) => t.id);
    for (const id of new Set(ids)) expect(id).toMatch(/^demo(\.[\w]+)*#\d+$/);
  });

  it('is deterministic and JSON-safe', () => {
    const again: Statechart = statechartOf(machine, noPorts);
    expect(again).toEqual(chart);
    expect(JSON.parse(JSON.stringify(chart))).toStrictEqual(chart);
  });

  it('reads a machine without setup', () => {
    const m = createMachine({ id: 'plain', initial: 'a', states: { a: { on: { go: 'b' } }, b: {} } });
    expect(statechartOf(m, noPorts).transitions).toEqual([
      { id: 'plain.a#0', from: 'plain.a', to: 'plain.b', event: 'go' },
    ]);
  });
});

describe('taken transitions: what the runtime records is what the statechart draws', () => {
  it("every transition a simulated run takes, an engine's or its parts', is named by the id of a drawn transition", () => {
    const cluster = new PipelineCluster({
      seed: 3,
      validators: 4,
      byzantine: 0,
      behaviour: 'silent',
      heights: 12,
      plan: NO_FAULTS,
      livenessPerHeightMs: 3_000,
      workload: { txs: 6, encrypted: 0.5, every: 3, variant: 0, shards: 2 },
    });
    const charts = new Map(
      engineDefinitions().flatMap((d) =>
        [statechartOfEngine(d), ...statechartsOfParts(d)].map((c) => [c.engine, c]),
      ),
    );
    const taken = new Map<string, Set<string>>();
    let changes = 0;
    const unnamed: string[] = [];
    /** the round machine's state as recorded, where it differs from the core's real round state */
    const roundMismatches: string[] = [];
    cluster.inspector.events$.subscribe((e) => {
      if (e.kind !== 'transition') return;
      const node = cluster.nodes.find((n) => n.id === e.node)!;
      const instance = node.graph!.instance(e.engine);
      const def = instance.definition.name;
      const ids = taken.get(def) ?? new Set<string>();
      for (const id of e.taken ?? []) ids.add(id);
      taken.set(def, ids);
      for (const p of e.parts ?? []) {
        const partIds = taken.get(`${def}.${p.part}`) ?? new Set<string>();
        for (const id of p.taken) partIds.add(id);
        taken.set(`${def}.${p.part}`, partIds);
      }
      if (def === 'consensus') {
        const real = phaseOf(consensusStateOf(instance.context())!.round);
        const recorded = e.parts?.find((p) => p.part === 'round')?.state;
        if (recorded !== real) roundMismatches.push(`${e.node} on ${e.event}: ${recorded} but ${real}`);
      }
      if (e.from !== e.to) {
        changes++;
        if ((e.taken ?? []).length === 0) unnamed.push(`${e.engine}: ${e.from} -> ${e.to} on ${e.event}`);
      }
    });
    const report = cluster.run();
    expect(report.violations).toEqual([]);
    expect(changes).toBeGreaterThan(0);
    // a step that changed state always names the transitions that did it
    expect(unnamed).toEqual([]);
    for (const [def, ids] of taken) {
      const drawn = new Set(charts.get(def)!.transitions.map((t) => t.id));
      for (const id of ids) expect(drawn.has(id), `${def}: ${id}`).toBe(true);
    }
    // the round machine's part of every consensus step: where it really is, and the rules of
    // Algorithm 1 it took, by line
    expect(roundMismatches).toEqual([]);
    const round = charts.get('consensus.round')!.transitions;
    const rulesTaken = (from: string, to: string): string[] =>
      round
        .filter(
          (t) =>
            t.from === `round.${from}` && t.to === `round.${to}` && taken.get('consensus.round')!.has(t.id),
        )
        .map((t) => /^line \d+/.exec(t.guard ?? '')?.[0] ?? '');
    expect(rulesTaken('propose', 'prevote').some((r) => ['line 22', 'line 28', 'line 57'].includes(r))).toBe(
      true,
    );
    expect(
      rulesTaken('prevote', 'precommit').some((r) => ['line 36', 'line 44', 'line 61'].includes(r)),
    ).toBe(true);
    expect(rulesTaken('precommit', 'decided')).toContain('line 49');
    // the decryptor went through its whole key epoch, hop by hop
    const decryptor = charts.get('decryptor')!.transitions;
    const hop = (from: string, to: string) =>
      decryptor.find((t) => t.from === `decryptor.${from}` && t.to === `decryptor.${to}`)!.id;
    for (const id of [
      hop('keying.dealing', 'keying.checked'),
      hop('keying.checked', 'keying.complaining'),
      hop('keying.checked', 'keying.deriving'),
      hop('keying.deriving', 'keyed.checked'),
      hop('keyed.checked', 'keyed.awaitingShares'),
      hop('keyed.awaitingShares', 'keyed.checked'),
    ])
      expect(taken.get('decryptor')!.has(id), id).toBe(true);
  });
});
