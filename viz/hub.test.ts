import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { consensusStateOf } from '../engines/consensus/machine.ts';
import { phaseOf } from '../engines/consensus/round-machine.ts';
import { EngineGraph } from '../runtime/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { Cluster } from '../sim/cluster.ts';
import { randomFaultPlan } from '../sim/plan.ts';
import { VizHub } from './hub.ts';
import type { Batch, FeedEvent, FeedMessage, Hello, Status } from './protocol.ts';
import { VIZ_WS_PATH, vizUpgrade } from './server.ts';
import { LiveSource, SimSource, type VizSource } from './source.ts';
import { parseTrace, TraceError, TraceRecorder, TraceSource } from './trace.ts';

const ids = ['n0', 'n1', 'n2', 'n3'];
const makeCluster = (seed = 11, faults: 'none' | 'light' = 'none') =>
  new Cluster({
    seed,
    validators: 4,
    byzantine: 0,
    behaviour: 'equivocate',
    heights: 3,
    plan: randomFaultPlan(seed, ids, faults, 150),
    txsPerBlock: 2,
    trace: false,
  });

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A page stand-in: a WebSocket client that keeps every message. */
class Page {
  readonly messages: FeedMessage[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.messages.push(JSON.parse(d.toString()) as FeedMessage));
  }
  static async open(url: string): Promise<Page> {
    const ws = new WebSocket(url);
    const page = new Page(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return page;
  }
  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }
  of<T extends FeedMessage['type']>(type: T): Extract<FeedMessage, { type: T }>[] {
    return this.messages.filter((m) => m.type === type) as Extract<FeedMessage, { type: T }>[];
  }
  events(): FeedEvent[] {
    return this.of('batch').flatMap((b: Batch) => b.events);
  }
  lastStatus(): Status | undefined {
    return this.of('status').at(-1);
  }
}

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function serve(source: VizSource, o: ConstructorParameters<typeof VizHub>[1] = {}) {
  const hub = new VizHub(source, o);
  hub.start();
  const upgrade = vizUpgrade(hub);
  const server = http.createServer((_q, r) => r.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => upgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  cleanup.push(async () => {
    hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const url = `ws://127.0.0.1:${port}${VIZ_WS_PATH}`;
  const open = async () => {
    const page = await Page.open(url);
    cleanup.push(() => page.ws.close());
    await waitFor(() => page.of('hello').length > 0, 20_000, 'hello');
    return page;
  };
  return { hub, open, url };
}

describe('the hub over a WebSocket, with a simulation', () => {
  it('says hello with every node, engine, edge and a laid-out chart for each definition and part', async () => {
    const source = new SimSource(() => makeCluster(), 'test sim', { playing: false });
    const { open } = await serve(source);
    const page = await open();
    const hello = page.of('hello')[0] as Hello;
    expect(hello.mode).toBe('sim');
    expect(hello.controls).toBe(true);
    const cluster = source.current;
    expect(hello.nodes.map((n) => n.node)).toEqual(cluster.nodes.map((n) => n.id));
    for (const [i, n] of cluster.nodes.entries()) {
      expect(hello.nodes[i]!.engines.map((e) => e.name)).toEqual(n.graph!.engineNames());
      expect(hello.graphs[i]!.engines.map((e) => e.name).sort()).toEqual(n.graph!.engineNames().sort());
    }
    const definitions = new Set(hello.nodes.flatMap((n) => n.engines.map((e) => e.definition)));
    // the consensus core's round machine comes with the consensus engine's chart
    expect(new Set(hello.charts.map((c) => c.definition))).toEqual(
      new Set([...definitions, 'consensus.round']),
    );
    const round = hello.charts.find((c) => c.definition === 'consensus.round')!;
    expect(round.partOf).toBe('consensus');
    expect(round.id).toBe('round');
    expect(round.states.map((s) => s.id)).toContain('round.precommit');
    expect(hello.charts.filter((c) => c.partOf !== undefined)).toEqual([round]);
  });

  it('streams the events a run produces, with happened-before edges across nodes, and statuses that match the engines', async () => {
    const source = new SimSource(() => makeCluster(), 'test sim', { playing: false });
    const { hub, open } = await serve(source, { budget: 1_000_000 });
    const page = await open();
    page.send({ type: 'control', op: 'jump', time: 1500 });
    await waitFor(() => (page.lastStatus()?.time ?? 0) >= 1500, 20_000, 'status after the jump');
    hub.flush();
    await waitFor(() => page.events().length > 0, 5000, 'events');
    const events = page.events();
    expect(hub.produced).toBeGreaterThan(100);
    // nothing over budget: every produced event was streamed
    await waitFor(() => page.lastStatus()!.stats.streamed === hub.produced, 5000, 'all streamed');
    expect(page.lastStatus()!.stats.dropped).toBe(0);
    const net = events.filter((e) => e.kind === 'deliver' && e.from.startsWith('external:net:'));
    expect(net.length).toBeGreaterThan(10);
    for (const e of net) {
      if (e.kind !== 'deliver') continue;
      expect(e.sent).toBeGreaterThan(0);
      expect(e.lamport).toBeGreaterThan(e.sent);
    }
    // every consensus step says where the round machine is and which of its rules it took
    const consensusSteps = events.filter((e) => e.kind === 'transition' && e.engine === 'consensus');
    expect(consensusSteps.length).toBeGreaterThan(10);
    for (const e of consensusSteps) {
      if (e.kind !== 'transition') continue;
      expect(e.parts?.map((p) => p.part)).toEqual(['round']);
    }
    const roundIds = consensusSteps.flatMap((e) => (e.kind === 'transition' ? e.parts![0]!.taken : []));
    const round = (page.of('hello')[0] as Hello).charts.find((c) => c.definition === 'consensus.round')!;
    const line36 = round.transitions.find(
      (t) =>
        t.from === 'round.prevote' && t.to === 'round.precommit' && t.guard?.startsWith('line 36') === true,
    )!;
    expect(roundIds).toContain(line36.id);
    // the status shows each engine's real state
    hub.flush();
    await waitFor(() => page.lastStatus()!.time === source.current.scheduler.now(), 5000, 'fresh status');
    const status = page.lastStatus()!;
    for (const n of source.current.nodes) {
      const shown = status.nodes.find((s) => s.node === n.id)!;
      expect(shown.up).toBe(true);
      for (const e of shown.engines) expect(e.state).toBe(n.graph!.instance(e.name).stateString());
      // and the round machine's state, the one the core's round state is in
      const core = consensusStateOf(n.graph!.instance('consensus').context())!;
      expect(shown.engines.find((e) => e.name === 'consensus')!.parts).toEqual({
        round: phaseOf(core.round),
      });
      expect(shown.engines.find((e) => e.name === 'digest')!.parts).toBeUndefined();
      expect(shown.consensus?.height).toBe((n.committed + 1n).toString());
      // the recent commits come from the node's block store: the blocks it really committed
      expect(shown.consensus?.commits.length).toBe(Math.min(12, Number(n.committed)));
      expect(shown.consensus?.commits.at(-1)).toEqual({
        height: n.committed.toString(),
        hash: n.lastHash.slice(0, 12),
      });
    }
  });

  it('filters by node and summarises what is over budget, saying how much', async () => {
    const source = new SimSource(() => makeCluster(), 'test sim', { playing: false });
    const { hub, open } = await serve(source, { budget: 100, flushMs: 100 });
    const page = await open();
    page.send({ type: 'filter', nodes: ['n2'] });
    await new Promise((r) => setTimeout(r, 50));
    page.send({ type: 'control', op: 'jump', time: 1000 });
    await waitFor(() => (page.lastStatus()?.time ?? 0) >= 1000, 20_000, 'jump');
    hub.flush();
    await waitFor(() => page.of('batch').some((b) => b.dropped > 0), 5000, 'a summary');
    const batches = page.of('batch');
    expect(batches.every((b) => b.events.length <= 10)).toBe(true);
    expect(page.events().every((e) => e.node === 'n2')).toBe(true);
    const dropped = batches.reduce((a, b) => a + b.dropped, 0);
    expect(dropped).toBeGreaterThan(0);
    for (const b of batches)
      for (const key of Object.keys(b.droppedBy)) expect(key.startsWith('n2/')).toBe(true);
    const s = page.lastStatus()!.stats;
    expect(s.dropped).toBe(dropped);
    expect(s.streamed + s.dropped).toBeLessThan(hub.produced);
  });

  it('pause, step and jump: a step runs to the next event; a jump back replays the seed to the same state', async () => {
    const source = new SimSource(() => makeCluster(5), 'test sim', { playing: true, speed: 10 });
    const { hub, open } = await serve(source);
    const page = await open();
    page.send({ type: 'control', op: 'jump', time: 2000 });
    await waitFor(() => page.lastStatus()?.time === 2000, 20_000, 'jump');
    const at2000 = JSON.stringify(page.lastStatus()!.nodes);
    expect(page.lastStatus()!.playing).toBe(false);
    // paused: ticks do not move time
    hub.tick();
    expect(source.current.scheduler.now()).toBe(2000);
    const before = source.current.inspector.eventCount;
    page.send({ type: 'control', op: 'step' });
    await waitFor(() => source.current.inspector.eventCount > before, 5000, 'step');
    expect(source.current.inspector.eventCount).toBeGreaterThan(before);
    page.send({ type: 'filter', nodes: ['n1'] });
    page.send({ type: 'control', op: 'jump', time: 700 });
    await waitFor(() => page.of('reset').length === 1, 20_000, 'reset');
    await waitFor(() => page.of('hello').length === 2, 20_000, 'second hello');
    const afterReset = page.messages.length;
    page.send({ type: 'control', op: 'jump', time: 2000 });
    await waitFor(() => page.lastStatus()?.time === 2000, 20_000, 'jump again');
    expect(JSON.stringify(page.lastStatus()!.nodes)).toBe(at2000);
    // the page's filter outlives the reset
    const later = page.messages.slice(afterReset).flatMap((m) => (m.type === 'batch' ? m.events : []));
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((e) => e.node === 'n1')).toBe(true);
    page.send({ type: 'control', op: 'play', speed: 5 });
    await waitFor(() => page.lastStatus()?.playing === true, 5000, 'playing');
    expect(page.lastStatus()!.speed).toBe(5);
  });

  it('answers bad messages with errors and keeps the page connected', async () => {
    const source = new SimSource(() => makeCluster(), 'test sim', { playing: false });
    const { open } = await serve(source);
    const page = await open();
    page.send('{not json');
    page.send(JSON.stringify([1, 2]));
    page.send({ type: 'explode' });
    page.send({ type: 'filter', kinds: ['nope'] });
    page.send({ type: 'control', op: 'play', speed: -1 });
    page.send({ type: 'control', op: 'jump', time: 'soon' });
    page.send({ type: 'control', op: 'rewind' });
    page.send({ type: 'load', name: 'x', text: 'garbage' });
    page.send({ type: 'load', name: 'x', text: 42 });
    const header = {
      type: 'fractal-trace',
      version: 1,
      title: 't',
      nodes: [{ node: 'a', engines: [null], edges: [] }],
    };
    page.send({ type: 'load', name: 'x', text: JSON.stringify(header) });
    await waitFor(() => page.of('error').length === 10, 5000, 'ten errors');
    const errors = page.of('error').map((e) => e.message);
    expect(errors[0]).toBe('not JSON');
    expect(errors[2]).toMatch(/unknown message type "explode"/);
    expect(errors[3]).toMatch(/unknown kind "nope"/);
    expect(errors[4]).toMatch(/speed must be/);
    expect(errors[5]).toMatch(/time must be/);
    expect(errors[6]).toMatch(/unknown control "rewind"/);
    expect(errors[7]).toMatch(/trace line 1: not JSON/);
    expect(errors[8]).toMatch(/text must be/);
    expect(errors[9]).toMatch(/trace line 1: header: every node needs/);
    expect(page.ws.readyState).toBe(WebSocket.OPEN);
    // the simulation is still what is shown
    expect(page.of('hello').length).toBe(1);
    expect(page.of('reset')).toEqual([]);
  });
});

describe('limits', () => {
  it('refuses pages beyond the limit, and a live feed takes no large messages', async () => {
    const source = new SimSource(() => makeCluster(), 'test sim', { playing: false });
    const { open, url } = await serve(source, { maxPages: 1 });
    await open();
    const second = new WebSocket(url);
    const closed = await new Promise<number>((resolve) => second.once('close', (code) => resolve(code)));
    expect(closed).toBe(1013);
    expect(new VizHub(source, { allowLoad: false }).maxMessageBytes).toBe(64 * 1024);
  });

  it('a trace recorder that cannot write stops recording, leaves the run alone, and says so on close', () => {
    const cluster = makeCluster(3);
    const recorder = new TraceRecorder(cluster, '/dev/full', { title: 'nowhere' });
    const report = cluster.run();
    expect(report.heights.n0).toBe(3);
    expect(() => recorder.close()).toThrow(/recording the trace to \/dev\/full failed/);
  });
});

describe('recorded traces', () => {
  it('a recorded run plays back with every event, statuses, and step/jump controls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fractal-trace-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'run.jsonl');
    const cluster = makeCluster(7, 'light');
    const recorder = new TraceRecorder(cluster, file, { title: 'seed 7', seed: 7, command: 'x' });
    cluster.run();
    recorder.close();
    const trace = parseTrace(readFileSync(file, 'utf8'));
    expect(trace.header.nodes.map((n) => n.node)).toEqual(ids);
    expect(trace.events.length).toBe(cluster.inspector.eventCount);
    expect(trace.events.length).toBe(recorder.events);
    expect(trace.statuses.length).toBeGreaterThan(10);
    const final = trace.statuses.at(-1)!;
    for (const n of cluster.nodes) {
      const shown = final.nodes.find((s) => s.node === n.id)!;
      for (const e of shown.engines) expect(e.state).toBe(n.graph!.instance(e.name).stateString());
    }

    const source = new TraceSource(trace, { name: 'run.jsonl' });
    const { hub, open } = await serve(source, { budget: 10_000_000 });
    const page = await open();
    expect((page.of('hello')[0] as Hello).mode).toBe('trace');
    page.send({ type: 'control', op: 'step' });
    await waitFor(() => page.events().length === 1, 5000, 'one step, one event');
    expect(page.events()[0]).toEqual(trace.events[0]);
    page.send({ type: 'control', op: 'jump', time: source.end });
    await waitFor(() => page.lastStatus()?.time === source.end, 5000, 'the end');
    hub.flush();
    await waitFor(() => page.events().length === trace.events.length, 5000, 'every event');
    expect(page.events()).toEqual(trace.events);
    expect(page.lastStatus()!.nodes).toEqual(final.nodes);
    page.send({ type: 'control', op: 'play', speed: 1 });
    await waitFor(() => page.of('error').length === 1, 5000, 'cannot play past the end');
    page.send({ type: 'control', op: 'jump', time: 0 });
    await waitFor(() => page.of('reset').length === 1, 5000, 'reset');
  });

  it('a trace loaded from the page replaces the simulation for every page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fractal-trace-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'run.jsonl');
    const cluster = makeCluster(3);
    const recorder = new TraceRecorder(cluster, file, { title: 'seed 3' });
    cluster.run();
    recorder.close();
    const source = new SimSource(() => makeCluster(), 'test sim', { playing: false });
    const { open } = await serve(source);
    const a = await open();
    const b = await open();
    a.send({ type: 'load', name: 'run.jsonl', text: readFileSync(file, 'utf8') });
    for (const page of [a, b]) {
      await waitFor(() => page.of('hello').length === 2, 10_000, 'hello for the trace');
      expect(page.of('reset')[0]!.reason).toMatch(/run\.jsonl/);
      expect((page.of('hello')[1] as Hello).mode).toBe('trace');
      expect((page.of('hello')[1] as Hello).title).toMatch(/seed 3/);
    }
  });

  it('malformed traces are TraceErrors naming the line', () => {
    const header = JSON.stringify({ type: 'fractal-trace', version: 1, title: 't', nodes: [] });
    const bad = (text: string) => () => parseTrace(text);
    expect(bad('')).toThrow(/empty/);
    expect(bad('{"type":"other"}')).toThrow(/not a Fractal trace/);
    expect(bad(JSON.stringify({ type: 'fractal-trace', version: 2, title: 't', nodes: [] }))).toThrow(
      /version 2/,
    );
    expect(bad(`${header}\n{"kind":"emit"}`)).toThrow(TraceError);
    expect(bad(`${header}\n{"kind":"emit","at":1,"node":"n","engine":"e","lamport":1}\n[`)).toThrow(
      /line 3: not JSON/,
    );
    expect(
      bad(
        `${header}\n{"kind":"emit","at":5,"node":"n","engine":"e","lamport":1}\n{"kind":"emit","at":4,"node":"n","engine":"e","lamport":2}`,
      ),
    ).toThrow(/line 3: time 4 goes backwards/);
    expect(bad(`${header}\n{"kind":"boom","at":5,"node":"n","engine":"e","lamport":1}`)).toThrow(/line 2/);
    // what a transition took, and its parts' steps, are lists of ids (the page flashes them)
    const step = (extra: string) =>
      `${header}\n{"kind":"transition","at":5,"node":"n","engine":"e","lamport":1,"event":"x","from":"a","to":"a"${extra}}`;
    expect(bad(step(',"taken":7'))).toThrow(/line 2: a transition names what it took/);
    expect(bad(step(',"parts":[{"part":"round","state":"prevote","taken":[1]}]'))).toThrow(/line 2/);
    expect(bad(step(',"parts":{"round":"prevote"}'))).toThrow(/line 2/);
    expect(
      parseTrace(step(',"parts":[{"part":"round","state":"prevote","taken":["round#0"]}]')).events,
    ).toHaveLength(1);
    const status = (parts: string) =>
      `${header}\n{"type":"status","time":1,"nodes":[{"node":"n","up":true,"engines":[{"name":"e","state":"s","status":"running","mailbox":0,"processed":0,"restarts":0,"parts":${parts}}]}]}`;
    expect(bad(status('{"round":3}'))).toThrow(/line 2: a status needs nodes/);
    expect(parseTrace(status('{"round":"prevote"}')).statuses).toHaveLength(1);
    expect(parseTrace(`${header}\n`).events).toEqual([]);
  });
});

describe('a live source', () => {
  it('builds inspection events only while a page listens', async () => {
    const scheduler = new SimScheduler(1);
    const inspector = new Inspector();
    const graph = new EngineGraph({ node: 'solo', scheduler, inspector });
    const source = new LiveSource(graph, inspector, 'solo');
    expect(inspector.active).toBe(false);
    const stop = source.listen(() => {});
    expect(inspector.active).toBe(true);
    stop();
    expect(inspector.active).toBe(false);
    expect(() => source.control({ type: 'control', op: 'pause' })).toThrow(/live node/);
  });
});
