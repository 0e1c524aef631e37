/**
 * The visualiser in a real browser: Debian's Chromium (FRACTAL_CHROMIUM overrides the path) driven
 * by playwright-core, against a running 4-validator simulation served by `VizServer`. Takes the
 * README's screenshot (viz/screenshot.png).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consensusStateOf } from '../engines/consensus/machine.ts';
import { phaseOf } from '../engines/consensus/round-machine.ts';
import { Cluster } from '../sim/cluster.ts';
import { randomFaultPlan } from '../sim/plan.ts';
import { VizHub } from './hub.ts';
import { VizServer } from './server.ts';
import { SimSource } from './source.ts';
import { TraceRecorder } from './trace.ts';

/** What the functions run inside the page use of its DOM (this file is type-checked for Node). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>;
  body: { textContent: string | null };
};

const CHROMIUM = process.env.FRACTAL_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = resolve('viz', 'screenshot.png');
const ids = ['n0', 'n1', 'n2', 'n3'];

const makeCluster = (seed: number, heights = 1_000) =>
  new Cluster({
    seed,
    validators: 4,
    byzantine: 1,
    behaviour: 'equivocate',
    heights,
    plan: randomFaultPlan(seed, ids, 'none', 1000),
    txsPerBlock: 2,
    trace: false,
  });

let browser: Browser;
let server: VizServer;
let source: SimSource<Cluster>;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  source = new SimSource(() => makeCluster(21), 'browser test: seed 21, 4 validators', {
    playing: true,
    speed: 1,
  });
  server = new VizServer(new VizHub(source));
  const url = await server.start(0);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  await page.goto(url);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The engine's real state, as the statechart names it. */
const realState = (node: string, engine: string): string => {
  const n = source.current.nodes.find((x) => x.id === node)!;
  const instance = n.graph!.instance(engine);
  const state = instance.stateString();
  const machineId = instance.machine.id;
  return state === '' ? machineId : `${machineId}.${state}`;
};

describe('the visualiser in Chromium, against a running simulation', () => {
  it('draws every engine of every node', async () => {
    for (const n of source.current.nodes) {
      const panel = page.locator(`[data-graph-node="${n.id}"]`);
      await panel.waitFor();
      for (const engine of n.graph!.engineNames()) {
        await expect(panel.locator(`[data-engine="${engine}"]`).count()).resolves.toBe(1);
      }
    }
  });

  it('shows messages in the space-time view, including ones between nodes', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#spacetime .msg').length > 5);
    const lanes = await page
      .locator('#spacetime .msg')
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-from-lane'), e.getAttribute('data-to-lane')]),
      );
    const across = lanes.filter(([from, to]) => from?.split('/')[0] !== to?.split('/')[0]);
    expect(across.length).toBeGreaterThan(0);
  });

  it('highlights the state each engine is really in, once paused', async () => {
    await page.click('#pause');
    await page.waitForFunction(() => document.querySelector('#play') !== null);
    // wait for the simulation to stop moving, then for the page to show where it stopped
    let before = -1;
    while (before !== source.current.scheduler.now()) {
      before = source.current.scheduler.now();
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const [node, engine] of [
      ['n0', 'consensus'],
      ['n2', 'digest'],
    ] as const) {
      await page.selectOption('#chart-node', node);
      await page.selectOption('#chart-engine', engine);
      const expected = realState(node, engine);
      await page.locator(`#chart [data-state-id="${expected}"].active`).waitFor({ timeout: 10_000 });
      await expect(page.locator('#chart .active').count()).resolves.toBe(1);
    }
    // the round machine the consensus core runs: its chart, in the step the core's round is in
    await page.selectOption('#chart-node', 'n0');
    await page.selectOption('#chart-engine', 'consensus');
    await page.click('#chart-parts button[data-part="round"]');
    const n0 = source.current.nodes.find((x) => x.id === 'n0')!;
    const round = consensusStateOf(n0.graph!.instance('consensus').context())!.round;
    await page
      .locator(`#chart [data-state-id="round.${phaseOf(round)}"].active`)
      .waitFor({ timeout: 10_000 });
    await expect(page.locator('#chart .active').count()).resolves.toBe(1);
    await page.click('#chart-parts button[data-part=""]');
    await page.locator('#chart [data-state-id="consensus"]').waitFor();
  });

  it('steps and jumps the simulation from the page', async () => {
    const t0 = source.current.scheduler.now();
    const events0 = source.current.inspector.eventCount;
    await page.click('#step');
    await expect.poll(() => source.current.inspector.eventCount).toBeGreaterThan(events0);
    await page.fill('#jump-time', String(Math.round(t0 + 2000)));
    await page.click('#jump');
    // a jump runs over the hub's ticks: wait for it
    await expect.poll(() => source.current.scheduler.now(), { timeout: 30_000 }).toBe(Math.round(t0 + 2000));
    await page.waitForFunction(
      (t) => document.querySelector('#time')?.textContent?.includes((t / 1000).toFixed(3)) === true,
      Math.round(t0 + 2000),
    );
    // the consensus table shows each node's real height
    for (const n of source.current.nodes) {
      const height = (n.committed + 1n).toString();
      await page.waitForFunction(
        ([id, h]) =>
          document.querySelector(`#consensus tr[data-node="${id}"]`)?.textContent?.includes(h!) === true,
        [n.id, height],
      );
    }
    // consensus of n0, playing at 0.1x: the transitions taken flash by name, and the log says
    // which rule fired
    await page.selectOption('#chart-node', 'n0');
    await page.selectOption('#chart-engine', 'consensus');
    await page.selectOption('#speed', '0.1');
    await page.click('#play');
    const flashes = () =>
      document.querySelector('#chart .transition.flash, #chart [data-transition].flash') !== null;
    await page.waitForFunction(flashes, undefined, { timeout: 20_000, polling: 50 });
    await page.waitForFunction(() => document.querySelector('#chart-log .log-rule') !== null, undefined, {
      timeout: 20_000,
    });
    // the README's screenshot: the round machine of n0 live, the whole chart in view, on a
    // screen large enough to read it
    await page.setViewportSize({ width: 1920, height: 1200 });
    await page.click('#chart-parts button[data-part="round"]');
    await page.locator('#chart [data-state-id="round.prevote"]').waitFor();
    if ((await page.locator('#chart-fit').textContent()) === 'Fit all') await page.click('#chart-fit');
    await page.waitForFunction(flashes, undefined, { timeout: 20_000, polling: 50 });
    // the log of the round's changes names the rules of Algorithm 1 that made them
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('#chart-log .log-rule')).some((r) =>
          /\[line \d+: /.test(r.textContent ?? ''),
        ),
      undefined,
      { timeout: 20_000 },
    );
    await page.waitForTimeout(1500);
    await page.waitForFunction(flashes, undefined, { timeout: 20_000, polling: 50 });
    await page.screenshot({ path: SCREENSHOT });
    await page.setViewportSize({ width: 1440, height: 960 });
    expect(problems).toEqual([]);
  });

  it('opens a recorded trace from a file and plays it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fractal-viz-'));
    try {
      const file = join(dir, 'failing.jsonl');
      const cluster = makeCluster(4, 3);
      const recorder = new TraceRecorder(cluster, file, { title: 'seed 4 recorded' });
      cluster.run();
      recorder.close();
      await page.setInputFiles('#trace-file', file);
      await page.waitForFunction(() => document.body.textContent?.includes('seed 4 recorded') === true);
      await page.fill('#jump-time', '1500');
      await page.click('#jump');
      await page.waitForFunction(() => document.querySelectorAll('#spacetime .msg').length > 0);
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
