/**
 * The chaos harness's network: a devnet layout whose validators dial each other only through a
 * fault proxy per directed link (node/chaos/proxy.ts; peer exchange off, so no link bypasses its
 * proxy), every validator keeping a signing log, each one a `fractal node` process. It knows what
 * state each node is in (up, starting, down, paused), polls their status, and can kill, pause,
 * restart, cut or slow links, and fill a disk: a small tmpfs where the machine lets us mount one
 * (we run as root in a sandbox), else the node's `maxDatabaseMiB` quota.
 *
 *   <dir>/chaos-run.json      marks the folder as the harness's (so a later run may delete it)
 *   <dir>/<name>/node.log     the node's output, across restarts
 *   <dir>/<name>/signing.jsonl its signing log
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { type NodeExit, NodeProcesses } from '../devnet.ts';
import { createLayout, type Layout, portFree } from '../layout.ts';
import type { NodeStatus } from '../node.ts';
import { RpcClient } from '../rpc/index.ts';
import { FaultProxy, type LinkMode, OPEN, type ProxyStats } from './proxy.ts';

export type NodeState = 'up' | 'starting' | 'down' | 'paused';

export const MARKER = 'chaos-run.json';
export const SIGNING_LOG = 'signing.jsonl';
export const INSTANCE = 'fractal-chaos';
const CLIENTS = 32;
/** a tmpfs this big is as good as a roomy disk (it only takes the memory its files use) */
const ROOMY_DISK = 2 * 1024 * 1024 * 1024;
/** what is left on a disk when it is filled */
const FILL_HEADROOM = 256 * 1024;
const MiB = 1024 * 1024;

export interface ClusterOptions {
  dir: string;
  validators: number;
  basePort: number;
  /** validators whose disk will be filled */
  fullDisk: readonly number[];
  out: (line: string) => void;
}

export interface PolledStatus {
  height: number;
  executedHeight: number;
  epochKey: NodeStatus['epochKey'];
  /** Date.now() of the answer */
  at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mountsUnder(dir: string): string[] {
  try {
    return readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m === dir || m.startsWith(`${dir}/`));
  } catch {
    return [];
  }
}

function unmount(path: string): void {
  try {
    execFileSync('umount', [path], { stdio: 'ignore' });
  } catch {
    // busy (a process still has a file open): detach it now, it goes once they close
    execFileSync('umount', ['-l', path], { stdio: 'ignore' });
  }
}

/** Deletes a previous run's folder (after unmounting its disks); refuses a folder that is not one. */
export function clearRunDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!existsSync(join(dir, MARKER)))
    throw new Error(`${dir} exists and is not a chaos run folder (no ${MARKER}); choose another --dir`);
  for (const m of mountsUnder(dir).reverse()) unmount(m);
  rmSync(dir, { recursive: true, force: true });
}

export class ChaosCluster {
  readonly layout: Layout;
  readonly names: string[];
  readonly rpcs: RpcClient[];
  readonly state: NodeState[];
  readonly status: (PolledStatus | undefined)[];
  readonly procs: NodeProcesses;
  /** exits nobody asked for (a crash, or a node stopping itself unexpectedly) */
  readonly unexpectedExits: NodeExit[] = [];
  /** how a full disk is made: a tmpfs per node, or the database quota */
  readonly diskMode: 'tmpfs' | 'quota';
  private readonly proxies = new Map<string, FaultProxy>();
  private readonly mounts: string[] = [];
  private readonly expectingExit = new Map<number, (e: NodeExit) => void>();
  private poller: NodeJS.Timeout | undefined;
  private polling = false;

  private constructor(
    private readonly o: ClusterOptions,
    layout: Layout,
    diskMode: 'tmpfs' | 'quota',
  ) {
    this.layout = layout;
    this.diskMode = diskMode;
    this.names = layout.nodes.map((n) => n.name);
    this.rpcs = layout.nodes.map((n) => new RpcClient(n.rpc, { timeoutMs: 4_000 }));
    this.state = layout.nodes.map(() => 'down');
    this.status = layout.nodes.map(() => undefined);
    const relabel = (l: string) => o.out(l.replace(/^devnet: /, 'chaos: '));
    this.procs = new NodeProcesses(layout, relabel);
    this.procs.onExit((e) => {
      const i = this.names.indexOf(e.name);
      this.state[i] = 'down';
      this.status[i] = undefined;
      const waiter = this.expectingExit.get(i);
      if (waiter !== undefined) {
        this.expectingExit.delete(i);
        waiter(e);
      } else if (!e.expected) this.unexpectedExits.push(e);
    });
  }

  /** Port of the proxy that carries node `from`'s dials to node `to`. */
  static proxyPort(basePort: number, n: number, from: number, to: number): number {
    return basePort + 2 * n + from * n + to;
  }

  /** Writes the layout, routes every link through its proxy, prepares the disks; starts nothing. */
  static async create(o: ClusterOptions): Promise<ChaosCluster> {
    const n = o.validators;
    const ports = [...Array(2 * n + n * n).keys()].map((k) => o.basePort + k);
    for (const port of ports) {
      if (!(await portFree(port)))
        throw new Error(
          `port ${port} is in use (the harness needs ${o.basePort}..${o.basePort + ports.length - 1}); try another --base-port`,
        );
    }
    clearRunDir(o.dir);
    mkdirSync(o.dir, { recursive: true });
    writeFileSync(join(o.dir, MARKER), `${JSON.stringify({ createdAt: new Date().toISOString() })}\n`);
    const layout = createLayout(o.dir, {
      validators: n,
      clients: CLIENTS,
      host: '127.0.0.1',
      basePort: o.basePort,
      instance: INSTANCE,
      blockInterval: 200,
    });
    const keys = layout.nodes.map((node) => {
      // every other node's config pins this node's key: read it back from one of them
      const other = layout.nodes.find((x) => x !== node)!;
      const peers = (JSON.parse(readFileSync(other.config, 'utf8')) as { peers: string[] }).peers;
      const mine = peers.find((p) => p.startsWith(`${node.p2p}#`));
      if (mine === undefined) throw new Error(`no peer entry for ${node.name}`);
      return mine.slice(mine.indexOf('#') + 1);
    });
    layout.nodes.forEach((node, i) => {
      const config = JSON.parse(readFileSync(node.config, 'utf8')) as Record<string, unknown>;
      config.peers = layout.nodes.flatMap((_, j) =>
        j === i ? [] : [`ws://127.0.0.1:${ChaosCluster.proxyPort(o.basePort, n, i, j)}#${keys[j]}`],
      );
      config.p2p = { ...(config.p2p as object), peerExchange: false };
      config.signingLog = SIGNING_LOG;
      writeFileSync(node.config, `${JSON.stringify(config, null, 2)}\n`);
    });
    let diskMode: 'tmpfs' | 'quota' = 'tmpfs';
    const mounts: string[] = [];
    for (const i of o.fullDisk) {
      const data = join(dirname(layout.nodes[i]!.config), 'data');
      mkdirSync(data, { recursive: true });
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${ROOMY_DISK}`, 'tmpfs', data], { stdio: 'pipe' });
        mounts.push(data);
      } catch (e) {
        for (const m of mounts.splice(0)) unmount(m);
        diskMode = 'quota';
        const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message)
          .trim()
          .split('\n')[0];
        o.out(
          `chaos: cannot mount a tmpfs here (${why}); a full disk is the database quota (maxDatabaseMiB)`,
        );
        break;
      }
    }
    const cluster = new ChaosCluster(o, layout, diskMode);
    cluster.mounts.push(...mounts);
    try {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (i === j) continue;
          const target = new URL(layout.nodes[j]!.p2p);
          const proxy = new FaultProxy({
            listen: { host: '127.0.0.1', port: ChaosCluster.proxyPort(o.basePort, n, i, j) },
            target: { host: '127.0.0.1', port: Number(target.port) },
          });
          await proxy.start();
          cluster.proxies.set(`${i}>${j}`, proxy);
        }
      }
    } catch (e) {
      await cluster.stop();
      cluster.cleanup(true);
      throw e;
    }
    return cluster;
  }

  /** Node i's folder. */
  home(i: number): string {
    return dirname(this.layout.nodes[i]!.config);
  }

  logOf(i: number): string {
    return join(this.home(i), 'node.log');
  }

  /** Nodes that take requests now. */
  upNodes(): number[] {
    return this.state.flatMap((s, i) => (s === 'up' ? [i] : []));
  }

  startPolling(): void {
    this.poller = setInterval(() => void this.poll(), 1_000);
  }

  /** Asks every node that is up (or starting) for its status. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all(
        this.rpcs.map(async (rpc, i) => {
          if (this.state[i] !== 'up' && this.state[i] !== 'starting') return;
          try {
            const s = await rpc.call<NodeStatus>('status');
            if (this.state[i] === 'up' || this.state[i] === 'starting')
              this.status[i] = {
                height: s.height,
                executedHeight: s.executedHeight,
                epochKey: s.epochKey,
                at: Date.now(),
              };
          } catch {
            // down, paused or busy: the state says which
          }
        }),
      );
    } finally {
      this.polling = false;
    }
  }

  /** The highest height any node reported. */
  maxHeight(): number {
    return Math.max(0, ...this.status.map((s) => s?.height ?? 0));
  }

  /** Starts node i's process and waits until its RPC answers (false: it did not, or it exited). */
  async start(i: number, timeoutMs = 60_000): Promise<boolean> {
    this.state[i] = 'starting';
    this.procs.start(i);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.procs.isRunning(i)) return false;
      try {
        const s = await this.rpcs[i]!.call<NodeStatus>('status');
        this.status[i] = {
          height: s.height,
          executedHeight: s.executedHeight,
          epochKey: s.epochKey,
          at: Date.now(),
        };
        this.state[i] = 'up';
        return true;
      } catch {
        await sleep(200);
      }
    }
    return false;
  }

  /** kill -9 (or another signal), waiting for the process to end. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.state[i] = 'down';
    this.status[i] = undefined;
    if (this.procs.isRunning(i)) this.procs.signal(i, 'SIGCONT');
    await this.procs.kill(i, signal);
  }

  pause(i: number): void {
    if (this.procs.signal(i, 'SIGSTOP')) this.state[i] = 'paused';
  }

  resume(i: number): void {
    if (this.procs.signal(i, 'SIGCONT') && this.state[i] === 'paused') this.state[i] = 'up';
  }

  /** The next exit of node i is expected (a full disk): resolves with it. */
  expectExit(i: number): Promise<NodeExit> {
    return new Promise((resolve) => this.expectingExit.set(i, resolve));
  }

  /** Stops expecting an exit of node i (it did not come). */
  cancelExpectedExit(i: number): void {
    this.expectingExit.delete(i);
  }

  /** Sets the fault of the links between every node of `a` and every node of `b`, both ways. */
  setLinks(a: readonly number[], b: readonly number[], mode: LinkMode): void {
    for (const i of a) {
      for (const j of b) {
        if (i === j) continue;
        this.proxies.get(`${i}>${j}`)?.set(mode);
        this.proxies.get(`${j}>${i}`)?.set(mode);
      }
    }
  }

  /** The proxies' counters, summed over every link. */
  linkStats(): ProxyStats {
    const sum: ProxyStats = { accepted: 0, refused: 0, closed: 0, up: 0, down: 0, dropped: 0 };
    for (const p of this.proxies.values())
      for (const k of Object.keys(sum) as (keyof ProxyStats)[]) sum[k] += p.stats[k];
    return sum;
  }

  /** Every link back to normal. */
  healLinks(): void {
    for (const p of this.proxies.values()) p.set(OPEN);
  }

  private dataDir(i: number): string {
    return join(this.home(i), 'data');
  }

  /**
   * Leaves node i's disk almost no room: a tmpfs shrunk to what it holds plus a little, or (quota
   * mode; the node must be stopped) a quota just above its database's size.
   */
  fillDisk(i: number): string {
    if (this.diskMode === 'tmpfs') {
      for (let attempt = 0; ; attempt++) {
        const fs = statfsSync(this.dataDir(i));
        const used = (fs.blocks - fs.bfree) * fs.bsize;
        const size = Math.ceil((used + FILL_HEADROOM) / 4096) * 4096;
        try {
          execFileSync('mount', ['-o', `remount,size=${size}`, this.dataDir(i)], { stdio: 'pipe' });
          return `tmpfs shrunk to ${(size / MiB).toFixed(2)} MiB (${(FILL_HEADROOM / 1024).toFixed(0)} KiB free)`;
        } catch (e) {
          // it wrote meanwhile and holds more than the size asked for: measure again
          if (attempt >= 5) throw e;
        }
      }
    }
    const db = join(this.dataDir(i), 'node.sqlite');
    const mib = Math.ceil(statSync(db).size / MiB) + 1;
    this.editConfig(i, (c) => {
      c.maxDatabaseMiB = mib;
    });
    return `database quota maxDatabaseMiB=${mib}`;
  }

  /** Gives node i's disk room again. */
  freeDisk(i: number): void {
    if (this.diskMode === 'tmpfs')
      execFileSync('mount', ['-o', `remount,size=${ROOMY_DISK}`, this.dataDir(i)], { stdio: 'pipe' });
    else
      this.editConfig(i, (c) => {
        delete c.maxDatabaseMiB;
      });
  }

  private editConfig(i: number, edit: (c: Record<string, unknown>) => void): void {
    const file = this.layout.nodes[i]!.config;
    const c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(c);
    writeFileSync(file, `${JSON.stringify(c, null, 2)}\n`);
  }

  /** The last lines of node i's log. */
  logTail(i: number, bytes = 64 * 1024): string {
    try {
      const text = readFileSync(this.logOf(i), 'utf8');
      return text.slice(-bytes);
    } catch {
      return '';
    }
  }

  /** Stops every node (SIGCONT first for a paused one), every proxy and the polling. */
  async stop(): Promise<void> {
    if (this.poller !== undefined) clearInterval(this.poller);
    for (const i of this.layout.nodes.keys()) if (this.procs.isRunning(i)) this.procs.signal(i, 'SIGCONT');
    await this.procs.stop();
    this.state.fill('down');
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    await Promise.all(this.rpcs.map((r) => r.close()));
  }

  /** After stop: unmounts the disks (a kept folder keeps a copy of what they held) and, unless `keep`, deletes the folder. */
  cleanup(keep: boolean): void {
    for (const m of this.mounts.splice(0)) {
      const copy = `${m}.kept`;
      try {
        if (keep) cpSync(m, copy, { recursive: true });
        unmount(m);
        if (keep) {
          cpSync(copy, m, { recursive: true });
          rmSync(copy, { recursive: true, force: true });
        }
      } catch {
        this.o.out(`chaos: could not unmount ${m}; unmount it yourself`);
      }
    }
    if (!keep) rmSync(this.o.dir, { recursive: true, force: true });
  }
}
