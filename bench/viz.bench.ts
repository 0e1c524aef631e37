/**
 * viz.feed: inspection events per second the visualiser streams to one page while a 4-validator
 * simulation plays as fast as it can, against the events the simulation produced in the same run.
 * The page is a separate process (a browser is) that parses every batch. Two budgets: unlimited
 * (does the feed keep up?) and the default (it summarises the excess, and says how much).
 * Either way streamed + summarised must equal produced: the feed never falls behind silently.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { Cluster } from '../sim/cluster.ts';
import { randomFaultPlan } from '../sim/plan.ts';
import { VizHub } from '../viz/hub.ts';
import { VIZ_WS_PATH, vizUpgrade } from '../viz/server.ts';
import { MAX_SPEED, SimSource } from '../viz/source.ts';
import { report } from './report.ts';

const SECONDS = Number(process.env.FRACTAL_BENCH_VIZ_SECONDS ?? 5);

/** The page: counts events and summaries in every batch; prints totals when told to stop. */
const PAGE = `
const { WebSocket } = require('ws');
const ws = new WebSocket(process.argv[1]);
let events = 0, dropped = 0, batches = 0, bytes = 0;
ws.on('message', (d) => {
  bytes += d.length;
  const m = JSON.parse(d.toString());
  if (m.type === 'hello') ws.send(JSON.stringify({ type: 'control', op: 'play', speed: ${MAX_SPEED} }));
  if (m.type === 'batch') { batches++; events += m.events.length; dropped += m.dropped; }
});
process.on('message', () => { process.send({ events, dropped, batches, bytes }); ws.close(); process.exit(0); });
`;

interface PageTotals {
  events: number;
  dropped: number;
  batches: number;
  bytes: number;
}

async function run(
  budget: number | undefined,
): Promise<{ produced: number; page: PageTotals; wall: number }> {
  const ids = ['n0', 'n1', 'n2', 'n3'];
  const make = () =>
    new Cluster({
      seed: 1,
      validators: 4,
      byzantine: 0,
      behaviour: 'equivocate',
      heights: 1_000_000,
      plan: randomFaultPlan(1, ids, 'none', 1000),
      txsPerBlock: 4,
      trace: false,
    });
  // the simulation may take 70 of every 100 ms: the rest is the feed's (and the page's, on the other core)
  const source = new SimSource(make, 'bench', { playing: false, tickBudgetMs: 70 });
  const hub = new VizHub(source, budget === undefined ? {} : { budget });
  const upgrade = vizUpgrade(hub);
  const server = http.createServer((_q, r) => r.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => upgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  hub.start();
  const page = spawn(process.execPath, ['-e', PAGE, `ws://127.0.0.1:${port}${VIZ_WS_PATH}`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // measure from the first event the page could see
  while (hub.produced === 0) await new Promise((r) => setTimeout(r, 20));
  const started = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  hub.shown.control({ type: 'control', op: 'pause' });
  // let the last batches reach the page, then ask it for its totals
  for (let i = 0; i < 5; i++) {
    hub.flush();
    await new Promise((r) => setTimeout(r, 100));
  }
  const wall = (performance.now() - started) / 1000 - 0.5;
  const totals = await new Promise<PageTotals>((resolve) => {
    page.once('message', (m) => resolve(m as PageTotals));
    page.send('stop');
  });
  const all = hub.produced;
  hub.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  if (totals.events + totals.dropped !== all) {
    throw new Error(
      `viz.feed: the page saw ${totals.events} events and ${totals.dropped} summarised, but ${all} were produced`,
    );
  }
  return { produced: all, page: totals, wall };
}

export default async function vizBench(): Promise<void> {
  const open = await run(1e9);
  const rate = open.page.events / open.wall;
  const producedRate = open.produced / open.wall;
  report({
    name: 'viz.feed',
    value: rate,
    unit: 'events/s',
    ratio: open.page.events / (open.page.events + open.page.dropped),
    vs: `events-produced(${Math.round(producedRate)}/s,4-validator-sim-at-full-speed,no-budget)`,
  });
  const capped = await run(undefined);
  const cappedRate = capped.page.events / capped.wall;
  report({
    name: 'viz.feed_budgeted',
    value: cappedRate,
    unit: 'events/s',
    ratio: capped.page.events / (capped.page.events + capped.page.dropped),
    vs: `events-produced(${Math.round(capped.produced / capped.wall)}/s;rest-summarised:${capped.page.dropped})`,
  });
  console.error(
    `viz.feed: no budget: ${open.page.batches} batches, ${(open.page.bytes / 1e6).toFixed(1)} MB, ` +
      `${open.page.dropped} summarised (socket backed up); default budget: ${capped.page.dropped} summarised`,
  );
}
