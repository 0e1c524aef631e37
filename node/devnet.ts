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
import { type IntentWorkloadSummary, printIntentSummary, runIntentWorkload } from './devnet-intents.ts';
import { checkPortsFree, createLayout, type Layout, readLayout } from './layout.ts';
import {
  dueAt,
  dueBy,
  formatParts,
  type HeightTimes,
  type LatencyParts,
  latencyParts,
  type Percentiles,
  percentiles,
  scheduledCount,
  type TxTimes,
  throughput,
} from './loadgen.ts';
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
  /**
   * Offered transfers per second, sent open loop (each when it is due, whether or not the earlier
   * ones were admitted or executed); absent: closed loop, as fast as the network admits them.
   */
  rate?: number;
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
  /**
   * The phases of transfers still to run, given those done: the devnet runs the first, then asks
   * again, until the answer is empty (a benchmark measures the saturation rate, then offers
   * shares of it). Absent: one phase of `duration`, `rate`, `encrypted` and `txs`.
   */
  plan?: (done: readonly PhaseSummary[]) => readonly LoadPhase[];
  /** swap intents published after the transfers, settled by the solver on v0 (absent or 0: none) */
  intents?: number;
}

/** One stretch of transfers on the running network. */
export interface LoadPhase {
  /** its name in progress lines and summaries */
  name: string;
  seconds: number;
  /** offered transfers per second, open loop; absent: closed loop (see DevnetOptions.rate) */
  rate?: number;
  /** share sent encrypted, 0..1 */
  encrypted: number;
  /** at most this many transfers */
  txs?: number;
}

export interface PhaseSummary {
  phase: LoadPhase;
  submitted: { plain: number; encrypted: number };
  executed: { plain: number; encrypted: number };
  accepted: number;
  rejectedAtAdmission: Record<string, number>;
  /** from the phase's first submit to its last execution */
  seconds: number;
  tps: number;
  /** submit to the client receiving node 0's receipt */
  latencyMs: { plain: Percentiles; encrypted: Percentiles };
  /** where that latency went */
  parts: { plain: LatencyParts; encrypted: LatencyParts };
  /**
   * CPU seconds spent from the phase's start to its last execution: by each node process (absent
   * for in-process nodes, or where /proc cannot be read) and by this client process. On a shared
   * machine this is steadier than throughput: CPU per transaction is the cost, tx/s also the noise.
   */
  cpu: { nodes?: number[]; client: number };
}

export interface DevnetSummary {
  heights: Record<string, number>;
  phases: PhaseSummary[];
  rootsCompared: number;
  rootsDiffer: string[];
  dkgHeight: number;
  /** the intent workload's outcome, when it ran */
  intents?: IntentWorkloadSummary;
}

export type { Percentiles } from './loadgen.ts';

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

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every Linux Node.js runs on). */
const USER_HZ = 100;

/** A process's CPU seconds (user + system) from /proc/<pid>/stat; undefined where that cannot be read. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces: count fields after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/** This process's CPU seconds (user + system). */
function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
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

  /** CPU seconds (user + system) each node process has used so far, in node order; undefined off Linux. */
  cpuSeconds(): number[] | undefined {
    const out: number[] = [];
    for (const i of this.layout.nodes.keys()) {
      const pid = this.children.get(i)?.pid;
      const s = pid === undefined ? undefined : procCpuSeconds(pid);
      if (s === undefined) return undefined;
      out.push(s);
    }
    return out;
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
    const summary = await drive(o, layout, rpcs, out, () => procs?.cpuSeconds());
    const ok =
      summary.rootsDiffer.length === 0 &&
      (summary.intents === undefined ||
        (summary.intents.settled > 0 && summary.intents.failedSettlements === 0)) &&
      summary.phases.every(
        (p) => p.executed.plain + p.executed.encrypted === p.submitted.plain + p.submitted.encrypted,
      );
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

/** A transfer the client offered: when, and what became of it. */
interface Offered {
  encrypted: boolean;
  submitted: number;
  admitted?: number;
}

/** What the client learnt of an executed transaction from node 0's receipts. */
interface Seen {
  height: number;
  executed: number;
  seen: number;
  accepted: boolean;
}

async function drive(
  o: DevnetOptions,
  layout: Layout,
  rpcs: RpcClient[],
  out: (l: string) => void,
  nodesCpu: () => number[] | undefined,
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

  // 3. track commits and executions at node 0 (every node executes every transaction), by the
  // node's own clock and by the time the client heard of them (pushed: no polling in the way)
  const seen = new Map<string, Seen>();
  const heightTimes = new Map<number, HeightTimes>();
  const receiptsSub = await rpcs[0]!.subscribe('receipts', (payload) => {
    const now = Date.now();
    const r = payload as {
      height: string;
      executedAt?: number;
      receipts: { hash: string; accepted: boolean }[];
    };
    const height = Number(r.height);
    for (const x of r.receipts)
      seen.set(x.hash, { height, executed: r.executedAt ?? now, seen: now, accepted: x.accepted });
  });
  const blocksSub = await rpcs[0]!.subscribe('blocks', (payload) => {
    const b = payload as { height: string; time: string; committedAt?: number };
    heightTimes.set(Number(b.height), { proposed: Number(b.time), committed: b.committedAt ?? Date.now() });
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

  let rejected: Record<string, number> = {};
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
      const done = hashes.filter((h) => seen.has(h)).length;
      progress(`${label} ${bar(done, hashes.length)} ${done}/${hashes.length} executed, height ${height}`);
      if (done === hashes.length) break;
      if (Date.now() - start > timeoutMs) break;
      await sleep(200);
    }
    endProgress();
  };

  // 4. minted notes to spend: each transfer spends one of its own, so none waits for another
  const clientKeys = layout.clients.map((seed) => keyPairFromSeed(seed).publicKey);
  const offeredNotes = new Set<string>();
  let pool: { client: number; note: NoteJson }[] = [];
  const refill = async () => {
    const byClient: { client: number; note: NoteJson }[][] = [];
    for (const [c, key] of clientKeys.entries()) {
      const list = await notesOf(rpcs[0]!, toHex(key));
      const mine = list.filter((note) => BigInt(note.amount) === NOTE_AMOUNT && !offeredNotes.has(note.key));
      mine.sort((a, b) => a.key.localeCompare(b.key));
      byClient.push(mine.map((note) => ({ client: c, note })));
    }
    // interleave clients so consecutive transfers come from different payers (round robin: a
    // note's key starts with its owner, so sorting by key would line up each payer's notes)
    pool = [];
    const count = byClient.reduce((n, l) => n + l.length, 0);
    for (let i = 0; pool.length < count; i++) {
      for (const list of byClient) if (i < list.length) pool.push(list[i]!);
    }
  };
  /** Mints (plain transactions, signed by the mint authority) until `wanted` notes are unspent. */
  const ensureNotes = async (wanted: number) => {
    if (pool.length >= wanted) return;
    const perClient = Math.min(MINT_NOTES * 8, Math.ceil((wanted - pool.length) / layout.clients.length) + 1);
    const mints: string[] = [];
    for (const [c, owner] of clientKeys.entries()) {
      for (let k = 0; k < perClient; k += MINT_NOTES) {
        const n = Math.min(MINT_NOTES, perClient - k);
        const tx = buildMint(token, layout.authority, owner, Array(n).fill(NOTE_AMOUNT));
        const env = envelopeFor(tx, { instance, payerKey: layout.authority, fee: 10n, height });
        if (await submit(c, env.bytes)) mints.push(env.hash);
      }
    }
    await waitExecuted(mints, 'mint    ', 60_000);
    const minted = mints.filter((h) => seen.get(h)?.accepted === true).length;
    if (minted < mints.length) {
      throw new Error(
        `devnet: only ${minted} of ${mints.length} mints were executed and accepted (see the receipts over RPC)`,
      );
    }
    out(`devnet: minted ${perClient} notes of ${NOTE_AMOUNT} to each of ${layout.clients.length} clients`);
    await refill();
  };

  /** The k-th transfer of the pool, signed (and encrypted) but not sent: its note is offered once it is. */
  const build = (k: number, encrypted: boolean) => {
    const { client, note } = pool[k]!;
    const seed = layout.clients[client]!;
    const to = clientKeys[(client + 1) % layout.clients.length]!;
    const tx = buildTransfer(token, seed, note, to, 1n + BigInt(k % 100));
    return envelopeFor(tx, {
      instance,
      payerKey: seed,
      fee: 10n,
      height,
      ...(encrypted ? { epochKey } : {}),
    });
  };

  /** 5. one phase of transfers, then the wait for its stragglers. */
  const runPhase = async (phase: LoadPhase): Promise<PhaseSummary> => {
    rejected = {};
    const offered = new Map<string, Offered>();
    const isEncrypted = (k: number) =>
      Math.floor((k + 1) * phase.encrypted) > Math.floor(k * phase.encrypted);
    const send = async (k: number, env: { bytes: Uint8Array; hash: string }, encrypted: boolean) => {
      offeredNotes.add(pool[k]!.note.key);
      const t: Offered = { encrypted, submitted: Date.now() };
      offered.set(env.hash, t);
      if (await submit(k, env.bytes)) t.admitted = Date.now();
      else offered.delete(env.hash);
    };
    const label = phase.name.padEnd(8);
    const firstHeight = Math.max(0, ...heightTimes.keys()) + 1;
    let start = Date.now();
    let cpuAtStart = { nodes: nodesCpu(), client: ownCpuSeconds() };
    const ticker = setInterval(() => {
      let executed = 0;
      for (const h of offered.keys()) if (seen.has(h)) executed++;
      const secs = (Date.now() - start) / 1000;
      progress(
        `${label} ${executed}/${offered.size} executed, ${(executed / Math.max(secs, 0.001)).toFixed(0)} tx/s, height ${height}`,
      );
    }, 500);
    const inFlight: Promise<void>[] = [];
    if (phase.rate === undefined) {
      // closed loop: a fixed number of senders, each submitting its next transfer once the last
      // one is admitted. Every envelope is built beforehand, as in the open loop: the client shares
      // the machine with the nodes, and its signing would otherwise count against their throughput
      const total = Math.min(phase.txs ?? Number.POSITIVE_INFINITY, pool.length);
      const envs = Array.from({ length: total }, (_, k) => build(k, isEncrypted(k)));
      start = Date.now();
      cpuAtStart = { nodes: nodesCpu(), client: ownCpuSeconds() };
      const deadline = start + phase.seconds * 1000;
      let next = 0;
      const sender = async () => {
        while (next < total && Date.now() < deadline) {
          const k = next++;
          await send(k, envs[k]!, isEncrypted(k));
        }
      };
      await Promise.all(Array.from({ length: Math.min(MAX_IN_FLIGHT, total) }, sender));
    } else {
      // open loop: every envelope built beforehand (signing and encrypting are the client's work,
      // not the network's), then each sent when it is due, whatever became of the earlier ones
      const rate = phase.rate;
      const total = Math.min(scheduledCount(rate, phase.seconds), phase.txs ?? Number.POSITIVE_INFINITY);
      const envs = Array.from({ length: Math.min(total, pool.length) }, (_, k) => build(k, isEncrypted(k)));
      if (envs.length < total) out(`devnet: ${phase.name}: only ${envs.length} notes for ${total} transfers`);
      start = Date.now();
      cpuAtStart = { nodes: nodesCpu(), client: ownCpuSeconds() };
      for (let k = 0; k < envs.length; ) {
        const due = dueBy(Date.now() - start, rate, envs.length);
        for (; k < due; k++) inFlight.push(send(k, envs[k]!, isEncrypted(k)));
        if (k < envs.length) await sleep(Math.max(0, start + dueAt(k, rate) - Date.now()));
      }
      await Promise.all(inFlight);
    }
    // wait for the stragglers (encrypted ones need their shares a few blocks later)
    const settle = Date.now() + 60_000;
    while (Date.now() < settle && [...offered.keys()].some((h) => !seen.has(h))) await sleep(50);
    const nodesAtEnd = nodesCpu();
    const cpu = {
      client: ownCpuSeconds() - cpuAtStart.client,
      ...(nodesAtEnd === undefined || cpuAtStart.nodes === undefined
        ? {}
        : { nodes: nodesAtEnd.map((c, i) => c - (cpuAtStart.nodes?.[i] ?? 0)) }),
    };
    clearInterval(ticker);
    endProgress();
    pool = pool.filter((p) => !offeredNotes.has(p.note.key));

    const included = await inclusionHeights(rpcs[0]!, offered, firstHeight, seen);
    const lat = { plain: [] as number[], encrypted: [] as number[] };
    const times = { plain: [] as TxTimes[], encrypted: [] as TxTimes[] };
    const submitted = { plain: 0, encrypted: 0 };
    const executed = { plain: 0, encrypted: 0 };
    let accepted = 0;
    let last = start;
    for (const [h, t] of offered) {
      const kind = t.encrypted ? 'encrypted' : 'plain';
      submitted[kind]++;
      const s = seen.get(h);
      if (s === undefined || t.admitted === undefined) continue;
      executed[kind]++;
      if (s.accepted) accepted++;
      last = Math.max(last, s.seen);
      lat[kind].push(s.seen - t.submitted);
      times[kind].push({
        ...s,
        included: included.get(h) ?? s.height,
        submitted: t.submitted,
        admitted: t.admitted,
      });
    }
    const summary: PhaseSummary = {
      phase,
      submitted,
      executed,
      accepted,
      rejectedAtAdmission: rejected,
      seconds: (last - start) / 1000,
      tps: throughput(executed.plain + executed.encrypted, start, last),
      latencyMs: { plain: percentiles(lat.plain), encrypted: percentiles(lat.encrypted) },
      parts: {
        plain: latencyParts(times.plain, heightTimes),
        encrypted: latencyParts(times.encrypted, heightTimes),
      },
      cpu,
    };
    printPhase(summary, out);
    return summary;
  };

  try {
    const plan =
      o.plan ??
      ((done: readonly PhaseSummary[]): LoadPhase[] =>
        done.length > 0
          ? []
          : [
              {
                name: 'transfers',
                seconds: o.duration,
                encrypted: o.encrypted,
                txs: o.txs,
                ...(o.rate === undefined ? {} : { rate: o.rate }),
              },
            ]);
    const phases: PhaseSummary[] = [];
    for (let next = plan(phases); next.length > 0; next = plan(phases)) {
      // notes for every phase planned so far, minted at once (minting is work for the network too)
      await ensureNotes(next.reduce((n, p) => n + notesFor(p), 0));
      phases.push(await runPhase(next[0]!));
    }

    // 6. swap intents from many clients, settled by the solver on v0
    let intents: IntentWorkloadSummary | undefined;
    if ((o.intents ?? 0) > 0) {
      intents = await runIntentWorkload(
        {
          rpcs,
          layout,
          token,
          instance,
          height: () => height,
          epochKey,
          submit,
          waitExecuted,
          accepted: (h) => seen.get(h)?.accepted === true,
          out,
          progress,
        },
        o.intents!,
      );
      endProgress();
      printIntentSummary(intents, layout.nodes.length, out);
    }

    // 7. every node reached the same state root at every height they all executed
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
      phases,
      rootsCompared: common,
      rootsDiffer: differ,
      dkgHeight,
      ...(intents === undefined ? {} : { intents }),
    };
    printSummary(summary, out);
    return summary;
  } finally {
    clearInterval(heightTimer);
    await receiptsSub.close();
    await blocksSub.close();
    await Promise.all(rpcs.map((r) => r.close()));
  }
}

/**
 * The height whose block carries each of `hashes` (read back after the phase, from node 0's
 * blocks, so the reading costs the measured run nothing): an encrypted transaction executes some
 * heights after it.
 */
async function inclusionHeights(
  rpc: RpcClient,
  hashes: ReadonlyMap<string, unknown>,
  from: number,
  seen: ReadonlyMap<string, Seen>,
): Promise<Map<string, number>> {
  let to = 0;
  for (const h of hashes.keys()) to = Math.max(to, seen.get(h)?.height ?? 0);
  const found = new Map<string, number>();
  for (let height = from; height <= to; height++) {
    const block = await rpc
      .call<{ txs: string[] }>('block', { height: String(height) })
      .catch(() => ({ txs: [] as string[] }));
    for (const tx of block.txs) if (hashes.has(tx)) found.set(tx, height);
  }
  return found;
}

/** Notes a phase may spend: its schedule when open loop, else what the network plausibly takes. */
function notesFor(p: LoadPhase): number {
  const most = p.txs ?? Number.POSITIVE_INFINITY;
  return p.rate === undefined
    ? Math.min(most, Math.ceil(p.seconds * MINT_RATE_GUESS))
    : Math.min(most, scheduledCount(p.rate, p.seconds));
}

function printPhase(s: PhaseSummary, out: (l: string) => void): void {
  const sent = s.submitted.plain + s.submitted.encrypted;
  const done = s.executed.plain + s.executed.encrypted;
  const how =
    s.phase.rate === undefined ? 'closed loop' : `offered ${s.phase.rate.toFixed(1)} tx/s, open loop`;
  out('');
  out(`devnet phase ${s.phase.name} (${how})`);
  out(
    `  transfers      ${sent} submitted (${s.submitted.plain} plain, ${s.submitted.encrypted} encrypted), ${done} executed, ${s.accepted} accepted`,
  );
  if (Object.keys(s.rejectedAtAdmission).length > 0) {
    out(`  refused        ${JSON.stringify(s.rejectedAtAdmission)}`);
  }
  out(`  throughput     ${s.tps.toFixed(1)} tx/s over ${s.seconds.toFixed(1)} s`);
  out(`  cpu            ${formatCpu(s.cpu, done)}`);
  out(
    `  latency        plain p50 ${s.latencyMs.plain.p50} ms p99 ${s.latencyMs.plain.p99} ms; encrypted p50 ${s.latencyMs.encrypted.p50} ms p99 ${s.latencyMs.encrypted.p99} ms (submit to execution)`,
  );
  for (const kind of ['plain', 'encrypted'] as const)
    if (s.parts[kind].n > 0) out(`  ${kind.padEnd(14)} ${formatParts(s.parts[kind])}`);
}

/** `nodes 3.1+3.0+2.9+3.2 s, client 1.2 s: 13.4 s, 8.2 ms per transfer`. */
export function formatCpu(cpu: PhaseSummary['cpu'], transfers: number): string {
  const nodes = cpu.nodes ?? [];
  const total = nodes.reduce((a, b) => a + b, 0) + cpu.client;
  const per = transfers > 0 ? `, ${((1000 * total) / transfers).toFixed(2)} ms per transfer` : '';
  const nodePart = cpu.nodes === undefined ? '' : `nodes ${nodes.map((c) => c.toFixed(1)).join('+')} s, `;
  return `${nodePart}client ${cpu.client.toFixed(1)} s: ${total.toFixed(1)} s${per}`;
}

function printSummary(s: DevnetSummary, out: (l: string) => void): void {
  out('');
  out('devnet summary');
  out(
    `  heights        ${Object.entries(s.heights)
      .map(([n, h]) => `${n}@${h}`)
      .join('  ')}`,
  );
  out(`  epoch key      at height ${s.dkgHeight} (on-chain DKG)`);
  out(
    s.rootsDiffer.length === 0
      ? `  state roots    identical at every node for all ${s.rootsCompared} heights`
      : `  state roots    DIFFER: ${s.rootsDiffer.slice(0, 5).join('; ')}`,
  );
}
