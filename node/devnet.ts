/**
 * `fractal devnet`: a local network of validators on loopback, each its own process (or, with
 * `--in-process`, all in this one) over SQLite under `.fractal/devnet`, driven by a demo workload
 * over JSON-RPC: wait for the on-chain DKG, mint notes to the demo clients, then send plain and
 * threshold-encrypted token transfers; finally check that every node reached the same state root
 * at every height, and print a summary. A second run without `--reset` resumes from disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { VIZ_PATH, VIZ_WS_PATH } from '../viz/server.ts';
import { toHex } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import {
  buildMint,
  buildTransfer,
  type EpochKeyJson,
  envelopeFor,
  type NoteJson,
  notesOf,
  tokenOf,
} from './client.ts';
import { loadGenesis, loadIdentity, loadNodeConfig } from './config.ts';
import { checkPortsFree, createLayout, type Layout, readLayout } from './layout.ts';
import { LiveNode, type NodeStatus } from './node.ts';
import { addSummaries, type CpuProfile, formatSummary, summarizeProfile } from './profile.ts';
import { RpcClient } from './rpc/index.ts';

export interface DevnetOptions {
  dir: string;
  validators: number;
  inProcess: boolean;
  /** seconds of transfers */
  duration: number;
  /** stop after this many transfers (whichever comes first) */
  txs: number;
  /** share of transfers sent encrypted, 0..1 */
  encrypted: number;
  reset: boolean;
  basePort: number;
  blockInterval: number;
  keepRunning: boolean;
  quiet: boolean;
  /** where progress and the summary go */
  out?: (line: string) => void;
  /**
   * A folder for a CPU profile of each node process (`node --cpu-prof`, written when it stops):
   * the run ends by printing where each node's time went, by layer and by engine.
   */
  profile?: string;
}

export interface DevnetSummary {
  heights: Record<string, number>;
  submitted: { plain: number; encrypted: number };
  executed: { plain: number; encrypted: number };
  accepted: number;
  rejectedAtAdmission: Record<string, number>;
  seconds: number;
  tps: number;
  latencyMs: { plain: Percentiles; encrypted: Percentiles };
  rootsCompared: number;
  rootsDiffer: string[];
  dkgHeight: number;
}

export interface Percentiles {
  p50: number;
  p99: number;
  n: number;
}

/** The CLI launcher (registers tsx itself, so it runs from any working directory). */
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'fractal.js');
const NOTE_AMOUNT = 1_000n;
const MINT_NOTES = 200;
/** transfers per second of --duration to mint notes for */
const MINT_RATE_GUESS = 300;
/** transfers awaiting admission at once */
const MAX_IN_FLIGHT = 256;

/** A running network: nodes as child processes or in this process. */
interface Running {
  stop(): Promise<void>;
}

/** How one node process ended. */
export interface NodeExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ended by `kill` or `stop` (a test's crash, a graceful stop), not by something else */
  expected: boolean;
  log: string;
}

/** `v2 exited with code 1` / `v2 was killed by SIGKILL`. */
export function describeExit(e: NodeExit): string {
  return e.signal !== null ? `${e.name} was killed by ${e.signal}` : `${e.name} exited with code ${e.code}`;
}

/** Validators as child processes (`fractal node --config …`), each logging to its node.log. */
export class NodeProcesses implements Running {
  private readonly children = new Map<number, ChildProcess>();
  /** children `kill` was asked to end: their exit is no news */
  private readonly ending = new Set<ChildProcess>();
  private readonly exitWaiters = new Set<(e: NodeExit) => void>();
  private stopping = false;

  constructor(
    private readonly layout: Layout,
    private readonly out: (l: string) => void = () => {},
    /** the command that runs node `i` (default: `fractal node --config <its config>`) */
    private readonly command: (i: number) => { file: string; args: string[] } = (i) => ({
      file: process.execPath,
      args: [BIN, 'node', '--config', layout.nodes[i]!.config],
    }),
  ) {}

  startAll(): this {
    for (const i of this.layout.nodes.keys()) this.start(i);
    return this;
  }

  start(i: number): void {
    const n = this.layout.nodes[i]!;
    const logFile = join(dirname(n.config), 'node.log');
    const log = openSync(logFile, 'a');
    const { file, args } = this.command(i);
    const child = spawn(file, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    child.on('exit', (code, signal) => {
      if (this.children.get(i) === child) this.children.delete(i);
      const expected = this.stopping || this.ending.delete(child);
      const exit: NodeExit = { name: n.name, code, signal, expected, log: logFile };
      if (!expected) this.out(`devnet: ${describeExit(exit)}; its log: ${logFile}`);
      for (const w of [...this.exitWaiters]) w(exit);
    });
    this.children.set(i, child);
  }

  /** Node processes running now. */
  get running(): number {
    return this.children.size;
  }

  /** `stop` was called (every exit from then on is expected). */
  get stopped(): boolean {
    return this.stopping;
  }

  /** Whether node `i` has a process running (or paused) now. */
  isRunning(i: number): boolean {
    return this.children.has(i);
  }

  /** Sends a signal without waiting for anything (SIGSTOP, SIGCONT); false if node `i` is not running. */
  signal(i: number, signal: NodeJS.Signals): boolean {
    const c = this.children.get(i);
    return c?.kill(signal) ?? false;
  }

  /** Calls `listener` with every node exit from now on, expected or not; returns its removal. */
  onExit(listener: (e: NodeExit) => void): () => void {
    this.exitWaiters.add(listener);
    return () => this.exitWaiters.delete(listener);
  }

  /** Sends a signal (SIGKILL for a crash) and waits for the process to end. */
  kill(i: number, signal: NodeJS.Signals): Promise<void> {
    const c = this.children.get(i);
    if (c === undefined) return Promise.resolve();
    return new Promise<void>((res) => {
      if (c.exitCode !== null || c.signalCode !== null) return res();
      this.ending.add(c);
      c.once('exit', () => res());
      c.kill(signal);
      if (signal !== 'SIGKILL') setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
    });
  }

  /**
   * Resolves once no node process is left running, with the exits seen while waiting (each one
   * not asked for by `kill` was already reported on `out` as it happened).
   */
  allExited(): Promise<NodeExit[]> {
    const seen: NodeExit[] = [];
    return new Promise((resolve) => {
      if (this.children.size === 0) return resolve(seen);
      const onExit = (e: NodeExit) => {
        seen.push(e);
        if (this.children.size > 0) return;
        this.exitWaiters.delete(onExit);
        resolve(seen);
      };
      this.exitWaiters.add(onExit);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.children.keys()].map((i) => this.kill(i, 'SIGTERM')));
  }
}

/**
 * `--keep-running` with node processes: waits until every node has exited (each exit is reported
 * as it happens), then says so. Resolves false: a devnet whose nodes all died is a failure.
 */
export async function superviseUntilAllExit(
  procs: NodeProcesses,
  out: (l: string) => void,
): Promise<boolean> {
  out('devnet: nodes keep running; Ctrl-C stops them');
  const exits = await procs.allExited();
  if (procs.stopped) return false; // Ctrl-C: the signal handler reports and exits
  const how = exits.map(describeExit).join(', ');
  out(`devnet: every node has exited${how === '' ? '' : ` (${how})`}; nothing left to run`);
  return false;
}

async function startInProcess(layout: Layout): Promise<Running> {
  const nodes: LiveNode[] = [];
  for (const n of layout.nodes) {
    const config = loadNodeConfig(n.config);
    const destination = pino.destination({
      dest: join(dirname(n.config), 'node.log'),
      sync: false,
      mkdir: true,
    });
    nodes.push(
      await LiveNode.start({
        config,
        genesis: loadGenesis(config.genesis),
        identity: loadIdentity(config.identityKey),
        logDestination: destination,
      }),
    );
  }
  return {
    async stop() {
      await Promise.all(nodes.map((n) => n.stop('devnet finished')));
    },
  };
}

/** One visualiser page showing every node: served by the first, fed by each node's /viz/ws. */
export function vizUrlOf(rpcs: readonly string[]): string {
  const feeds = rpcs.map((r) => new URL(VIZ_WS_PATH, r.replace(/^http/, 'ws')).toString());
  return `${new URL(VIZ_PATH, rpcs[0]).toString()}?feeds=${feeds.map(encodeURIComponent).join(',')}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentiles(xs: number[]): Percentiles {
  if (xs.length === 0) return { p50: 0, p99: 0, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), n: s.length };
}

async function statuses(clients: RpcClient[]): Promise<(NodeStatus | undefined)[]> {
  return Promise.all(clients.map((c) => c.call<NodeStatus>('status').catch(() => undefined)));
}

function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** Runs the devnet; resolves with the summary (and exit code 0 when every check held). */
export async function runDevnet(o: DevnetOptions): Promise<{ summary: DevnetSummary; ok: boolean }> {
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const dir = resolve(o.dir);
  if (o.reset && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  const fresh = !existsSync(join(dir, 'genesis.json'));
  const layout = fresh
    ? createLayout(dir, {
        validators: o.validators,
        clients: 64,
        host: '127.0.0.1',
        basePort: o.basePort,
        instance: 'fractal-devnet',
        blockInterval: o.blockInterval,
      })
    : readLayout(dir);
  mkdirSync(dir, { recursive: true });
  out(
    fresh
      ? `devnet: created ${layout.nodes.length} validators, genesis and demo keys in ${dir}`
      : `devnet: resuming the network in ${dir} from disk (--reset starts afresh)`,
  );
  await checkPortsFree(layout);
  if (o.profile !== undefined) {
    if (o.inProcess) throw new Error('devnet: a profile is taken of node processes, not of in-process nodes');
    rmSync(o.profile, { recursive: true, force: true });
    mkdirSync(o.profile, { recursive: true });
  }
  const profileDir = o.profile === undefined ? undefined : resolve(o.profile);
  const procs = o.inProcess
    ? undefined
    : new NodeProcesses(layout, out, (i) => ({
        file: process.execPath,
        args: [
          ...(profileDir === undefined
            ? []
            : [
                '--cpu-prof',
                '--cpu-prof-dir',
                profileDir,
                '--cpu-prof-name',
                `${layout.nodes[i]!.name}.cpuprofile`,
              ]),
          BIN,
          'node',
          '--config',
          layout.nodes[i]!.config,
        ],
      })).startAll();
  const running = procs ?? (await startInProcess(layout));
  const rpcs = layout.nodes.map((n) => new RpcClient(n.rpc));
  const stopAll = async () => {
    await running.stop();
  };
  const onSignal = () => {
    out('\ndevnet: interrupted, stopping the nodes…');
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await drive(o, layout, rpcs, out);
    const ok =
      summary.rootsDiffer.length === 0 &&
      summary.executed.plain + summary.executed.encrypted ===
        summary.submitted.plain + summary.submitted.encrypted;
    if (o.keepRunning) {
      if (procs !== undefined) return { summary, ok: (await superviseUntilAllExit(procs, out)) && ok };
      // in-process nodes live as long as this process: until Ctrl-C
      out('devnet: nodes keep running; Ctrl-C stops them');
      await new Promise<void>(() => {});
    }
    return { summary, ok };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (procs === undefined || procs.running > 0) {
      out('devnet: stopping the nodes (graceful: mailboxes drained, storage closed)');
      await stopAll();
    }
    if (profileDir !== undefined) for (const line of profileReport(profileDir)) out(line);
  }
}

/** Each node's profile in `dir`, summarised, then all of them together. */
export function profileReport(dir: string): string[] {
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort()
    : [];
  if (files.length === 0)
    return [`devnet: no CPU profile was written in ${dir} (did the nodes stop gracefully?)`];
  const summaries = files.map((f) => ({
    name: f.replace(/\.cpuprofile$/, ''),
    summary: summarizeProfile(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile),
  }));
  const lines = [`devnet: CPU profiles in ${dir} (open one in Chrome DevTools or speedscope)`];
  for (const s of summaries) lines.push(...formatSummary(s.name, s.summary));
  lines.push(...formatSummary('all nodes', addSummaries(summaries.map((s) => s.summary))));
  return lines;
}

async function drive(
  o: DevnetOptions,
  layout: Layout,
  rpcs: RpcClient[],
  out: (l: string) => void,
): Promise<DevnetSummary> {
  const progress = (line: string) => {
    if (o.quiet) return;
    if (process.stdout.isTTY) process.stdout.write(`\r${line.padEnd(100)}`);
    else out(line);
  };
  const endProgress = () => {
    if (!o.quiet && process.stdout.isTTY) process.stdout.write('\n');
  };

  // 1. every node answers
  const t0 = Date.now();
  for (;;) {
    const st = await statuses(rpcs);
    if (st.every((s) => s !== undefined)) break;
    if (Date.now() - t0 > 60_000)
      throw new Error('devnet: the nodes did not come up within 60 s; see their node.log');
    await sleep(200);
  }
  out('devnet: nodes are up');
  for (const n of layout.nodes)
    out(`  ${n.name}  rpc ${n.rpc}  metrics ${n.rpc}/metrics  ws ${n.rpc.replace('http', 'ws')}/ws`);
  out(`devnet: watch every node's engines in the browser: ${vizUrlOf(layout.nodes.map((n) => n.rpc))}`);

  // 2. the DKG (by height windows) gives an epoch key
  const genesis = await rpcs[0]!.call<{
    dkg: { start: number; dealWindow: number; complaintWindow: number };
  }>('genesis');
  const keyHeight = genesis.dkg.start + genesis.dkg.dealWindow + genesis.dkg.complaintWindow;
  let epochKey: EpochKeyJson | undefined;
  let dkgHeight = 0;
  for (;;) {
    const st = await statuses(rpcs);
    const h = Math.min(...st.map((s) => s?.height ?? 0));
    if (st.every((s) => s?.epochKey != null)) {
      epochKey = st[0]!.epochKey!;
      dkgHeight = h;
      break;
    }
    progress(`DKG ${bar(Math.min(h, keyHeight), keyHeight)} height ${h}/${keyHeight}`);
    if (Date.now() - t0 > 120_000)
      throw new Error('devnet: no epoch key after 120 s; see the nodes’ node.log');
    await sleep(250);
  }
  endProgress();
  out(
    `devnet: DKG done, epoch ${epochKey.epoch} key ${epochKey.publicKey.slice(0, 16)}… (height ${dkgHeight})`,
  );

  // 3. track executions at node 0 (every node executes every transaction)
  const executedAt = new Map<string, number>();
  const acceptedSet = new Set<string>();
  const sub = await rpcs[0]!.subscribe('receipts', (payload) => {
    const r = payload as { receipts: { hash: string; accepted: boolean }[] };
    const now = Date.now();
    for (const x of r.receipts) {
      executedAt.set(x.hash, now);
      if (x.accepted) acceptedSet.add(x.hash);
    }
  });

  const token = tokenOf(keyPairFromSeed(layout.authority).publicKey);
  const status0 = (await rpcs[0]!.call<NodeStatus>('status'))!;
  const instance = status0.instance;
  let height = BigInt(status0.height);
  const heightTimer = setInterval(() => {
    void rpcs[0]!
      .call<NodeStatus>('status')
      .then((s) => {
        height = BigInt(s.height);
      })
      .catch(() => {});
  }, 500);

  const rejected: Record<string, number> = {};
  const submit = async (i: number, bytes: Uint8Array): Promise<boolean> => {
    try {
      // over each node's WebSocket: an HTTP exchange per transaction costs both sides more than
      // the transaction itself
      await rpcs[i % rpcs.length]!.callWs('submit', { tx: toHex(bytes) });
      return true;
    } catch (e) {
      const reason = (e as { data?: { reason?: string } }).data?.reason ?? (e as Error).message;
      rejected[reason] = (rejected[reason] ?? 0) + 1;
      return false;
    }
  };
  const waitExecuted = async (hashes: string[], label: string, timeoutMs: number) => {
    const start = Date.now();
    for (;;) {
      const done = hashes.filter((h) => executedAt.has(h)).length;
      progress(`${label} ${bar(done, hashes.length)} ${done}/${hashes.length} executed, height ${height}`);
      if (done === hashes.length) break;
      if (Date.now() - start > timeoutMs) break;
      await sleep(200);
    }
    endProgress();
  };

  try {
    // 4. mint notes to every client (plain transactions, signed by the mint authority)
    // notes for what the network can plausibly take in the time (minting is work for it too)
    const wanted = Math.min(o.txs, Math.ceil(o.duration * MINT_RATE_GUESS));
    const perClient = Math.min(MINT_NOTES * 8, Math.ceil(wanted / layout.clients.length) + 1);
    const mints: string[] = [];
    for (const [c, seed] of layout.clients.entries()) {
      const owner = keyPairFromSeed(seed).publicKey;
      for (let k = 0; k < perClient; k += MINT_NOTES) {
        const n = Math.min(MINT_NOTES, perClient - k);
        const tx = buildMint(token, layout.authority, owner, Array(n).fill(NOTE_AMOUNT));
        const env = envelopeFor(tx, { instance, payerKey: layout.authority, fee: 10n, height });
        if (await submit(c, env.bytes)) mints.push(env.hash);
      }
    }
    await waitExecuted(mints, 'mint    ', 60_000);
    const minted = mints.filter((h) => acceptedSet.has(h)).length;
    if (minted < mints.length) {
      throw new Error(
        `devnet: only ${minted} of ${mints.length} mints were executed and accepted (see the receipts over RPC)`,
      );
    }
    out(`devnet: minted ${perClient} notes of ${NOTE_AMOUNT} to each of ${layout.clients.length} clients`);

    // 5. transfers: each spends its own minted note, so none waits for another
    const byClient: { client: number; note: NoteJson }[][] = [];
    for (const [c, seed] of layout.clients.entries()) {
      const owner = toHex(keyPairFromSeed(seed).publicKey);
      const list = await notesOf(rpcs[0]!, owner);
      const mine = list.filter((note) => BigInt(note.amount) === NOTE_AMOUNT);
      mine.sort((a, b) => a.key.localeCompare(b.key));
      byClient.push(mine.map((note) => ({ client: c, note })));
    }
    // interleave clients so consecutive transfers come from different payers (round robin: a
    // note's key starts with its owner, so sorting by key would line up each payer's notes)
    const notes: { client: number; note: NoteJson }[] = [];
    const count = byClient.reduce((n, l) => n + l.length, 0);
    for (let i = 0; notes.length < count; i++) {
      for (const list of byClient) if (i < list.length) notes.push(list[i]!);
    }
    const total = Math.min(wanted, notes.length);
    const sentAt = new Map<string, { at: number; encrypted: boolean }>();
    const submitted = { plain: 0, encrypted: 0 };
    const start = Date.now();
    const deadline = start + o.duration * 1000;
    let next = 0;
    const ticker = setInterval(() => {
      let executed = 0;
      for (const h of sentAt.keys()) if (executedAt.has(h)) executed++;
      const secs = (Date.now() - start) / 1000;
      progress(
        `transfers ${bar(executed, total)} ${executed}/${total} executed, ${(executed / Math.max(secs, 0.001)).toFixed(0)} tx/s, height ${height}`,
      );
    }, 500);
    const clientKeys = layout.clients.map((seed) => keyPairFromSeed(seed).publicKey);
    const sendOne = async (k: number) => {
      const { client, note } = notes[k]!;
      const seed = layout.clients[client]!;
      const to = clientKeys[(client + 1) % layout.clients.length]!;
      const encrypted = Math.floor((k + 1) * o.encrypted) > Math.floor(k * o.encrypted);
      const tx = buildTransfer(token, seed, note, to, 1n + BigInt(k % 100));
      const env = envelopeFor(tx, {
        instance,
        payerKey: seed,
        fee: 10n,
        height,
        ...(encrypted ? { epochKey } : {}),
      });
      const at = Date.now();
      if (await submit(k, env.bytes)) {
        sentAt.set(env.hash, { at, encrypted });
        if (encrypted) submitted.encrypted++;
        else submitted.plain++;
      }
    };
    // a fixed number of senders, each submitting its next transfer once the last one is admitted
    const sender = async () => {
      while (next < total && Date.now() < deadline) await sendOne(next++);
    };
    await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, total) }, sender));
    // wait for the stragglers (encrypted ones need their shares a few blocks later)
    const settle = Date.now() + 60_000;
    while (Date.now() < settle && [...sentAt.keys()].some((h) => !executedAt.has(h))) await sleep(200);
    clearInterval(ticker);
    endProgress();
    const seconds =
      (Math.max(...[...sentAt.keys()].map((h) => executedAt.get(h) ?? 0), start) - start) / 1000;

    const lat = { plain: [] as number[], encrypted: [] as number[] };
    const executed = { plain: 0, encrypted: 0 };
    let accepted = 0;
    for (const [h, s] of sentAt) {
      const at = executedAt.get(h);
      if (at === undefined) continue;
      (s.encrypted ? lat.encrypted : lat.plain).push(at - s.at);
      if (s.encrypted) executed.encrypted++;
      else executed.plain++;
      if (acceptedSet.has(h)) accepted++;
    }

    // 6. every node reached the same state root at every height they all executed
    const st = await statuses(rpcs);
    const common = Math.min(...st.map((s) => s?.executedHeight ?? 0));
    const differ: string[] = [];
    for (let h = 1; h <= common; h++) {
      const roots = await Promise.all(
        rpcs.map((r) => r.call<{ root: string }>('appRoot', { height: String(h) }).then((x) => x.root)),
      );
      if (new Set(roots).size !== 1) differ.push(`height ${h}: ${roots.map((r) => r.slice(0, 8)).join(' ')}`);
    }
    const summary: DevnetSummary = {
      heights: Object.fromEntries(layout.nodes.map((n, i) => [n.name, st[i]?.height ?? -1])),
      submitted,
      executed,
      accepted,
      rejectedAtAdmission: rejected,
      seconds,
      tps: seconds > 0 ? (executed.plain + executed.encrypted) / seconds : 0,
      latencyMs: { plain: percentiles(lat.plain), encrypted: percentiles(lat.encrypted) },
      rootsCompared: common,
      rootsDiffer: differ,
      dkgHeight,
    };
    printSummary(summary, out);
    return summary;
  } finally {
    clearInterval(heightTimer);
    await sub.close();
    await Promise.all(rpcs.map((r) => r.close()));
  }
}

function printSummary(s: DevnetSummary, out: (l: string) => void): void {
  const sent = s.submitted.plain + s.submitted.encrypted;
  const done = s.executed.plain + s.executed.encrypted;
  out('');
  out('devnet summary');
  out(
    `  heights        ${Object.entries(s.heights)
      .map(([n, h]) => `${n}@${h}`)
      .join('  ')}`,
  );
  out(`  epoch key      at height ${s.dkgHeight} (on-chain DKG)`);
  out(
    `  transfers      ${sent} submitted (${s.submitted.plain} plain, ${s.submitted.encrypted} encrypted), ${done} executed, ${s.accepted} accepted`,
  );
  if (Object.keys(s.rejectedAtAdmission).length > 0) {
    out(`  refused        ${JSON.stringify(s.rejectedAtAdmission)}`);
  }
  out(`  throughput     ${s.tps.toFixed(1)} tx/s over ${s.seconds.toFixed(1)} s`);
  out(
    `  latency        plain p50 ${s.latencyMs.plain.p50} ms p99 ${s.latencyMs.plain.p99} ms; encrypted p50 ${s.latencyMs.encrypted.p50} ms p99 ${s.latencyMs.encrypted.p99} ms (submit to execution)`,
  );
  out(
    s.rootsDiffer.length === 0
      ? `  state roots    identical at every node for all ${s.rootsCompared} heights`
      : `  state roots    DIFFER: ${s.rootsDiffer.slice(0, 5).join('; ')}`,
  );
}
