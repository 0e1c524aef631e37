/**
 * The devnet's supervision of its node processes (`--keep-running`), with stand-in processes in
 * place of real nodes: every exit nobody asked for is reported (which node, code or signal), and
 * once none is left the devnet says so and ends as a failure instead of vanishing silently.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNodeConfig } from './config.ts';
import { formatCpu, NodeProcesses, procCpuSeconds, superviseUntilAllExit, vizUrlOf } from './devnet.ts';
import { createLayout, type Layout } from './layout.ts';

const dir = mkdtempSync(join(tmpdir(), 'fractal-devnet-sup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function layoutOf(names: string[]): Layout {
  return {
    dir,
    genesis: join(dir, 'genesis.json'),
    nodes: names.map((name) => {
      mkdirSync(join(dir, name), { recursive: true });
      return { name, config: join(dir, name, 'config.json'), rpc: '', p2p: '' };
    }),
    authority: new Uint8Array(32),
    clients: [],
  };
}

/** Stand-ins: v0 exits with code 3, v1 is SIGKILLed (as by `kill -9` from outside), v2 runs until killed. */
const scripts = [
  'setTimeout(() => process.exit(3), 100)',
  "setTimeout(() => process.kill(process.pid, 'SIGKILL'), 200)",
  'setInterval(() => {}, 1000)',
];

describe('devnet --keep-running supervision', () => {
  it('reports each unexpected exit, then that every node is gone, and fails', async () => {
    const lines: string[] = [];
    const procs = new NodeProcesses(
      layoutOf(['v0', 'v1', 'v2']),
      (l) => lines.push(l),
      (i) => ({ file: process.execPath, args: ['-e', scripts[i]!] }),
    ).startAll();
    expect(procs.running).toBe(3);
    const supervised = superviseUntilAllExit(procs, (l) => lines.push(l));
    await procs.kill(2, 'SIGKILL'); // asked for: not news
    expect(await supervised).toBe(false);
    expect(procs.running).toBe(0);
    const reports = lines.filter((l) => /exited with|killed by/.test(l) && l.includes('its log'));
    expect(reports).toHaveLength(2);
    expect(reports.some((l) => l.startsWith('devnet: v0 exited with code 3; its log: '))).toBe(true);
    expect(reports.some((l) => l.startsWith('devnet: v1 was killed by SIGKILL; its log: '))).toBe(true);
    const last = lines.at(-1)!;
    expect(last).toMatch(/^devnet: every node has exited \(.*\); nothing left to run$/);
    for (const part of ['v0 exited with code 3', 'v1 was killed by SIGKILL', 'v2 was killed by SIGKILL'])
      expect(last).toContain(part);
  });

  it('keeps waiting while one node is still up', async () => {
    const lines: string[] = [];
    const procs = new NodeProcesses(
      layoutOf(['a', 'b']),
      (l) => lines.push(l),
      (i) => ({ file: process.execPath, args: ['-e', i === 0 ? 'process.exit(0)' : scripts[2]!] }),
    ).startAll();
    let done = false;
    const supervised = superviseUntilAllExit(procs, (l) => lines.push(l)).then((ok) => {
      done = true;
      return ok;
    });
    // a's exit is reported while b is still running
    while (!lines.some((l) => l.startsWith('devnet: a exited with code 0'))) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(done).toBe(false);
    expect(procs.running).toBe(1);
    await procs.stop();
    // a graceful stop (Ctrl-C) is not reported as every node having died
    expect(await supervised).toBe(false);
    expect(lines.some((l) => l.includes('every node has exited'))).toBe(false);
  });
});

describe('devnet CPU accounting', () => {
  it.runIf(process.platform === 'linux')(
    "reads a node process's CPU seconds from /proc, growing as it works",
    async () => {
      const procs = new NodeProcesses(
        layoutOf(['busy']),
        () => {},
        () => ({
          file: process.execPath,
          args: ['-e', 'const end = Date.now() + 400; while (Date.now() < end); setInterval(() => {}, 1000)'],
        }),
      ).startAll();
      try {
        const first = procs.cpuSeconds();
        expect(first).toHaveLength(1);
        let now = first!;
        while (now[0]! < first![0]! + 0.1) {
          await new Promise((r) => setTimeout(r, 50));
          now = procs.cpuSeconds()!;
        }
        expect(now[0]!).toBeGreaterThan(first![0]!);
      } finally {
        await procs.stop();
      }
      expect(procCpuSeconds(0x7fffffff)).toBeUndefined();
    },
  );

  it('prints CPU per transfer over nodes and client', () => {
    expect(formatCpu({ nodes: [1, 2], client: 1 }, 400)).toBe(
      'nodes 1.0+2.0 s, client 1.0 s: 4.0 s, 10.00 ms per transfer',
    );
    expect(formatCpu({ client: 0.5 }, 0)).toBe('client 0.5 s: 0.5 s');
  });
});

describe('devnet layout', () => {
  it("lets the page of any node read every other node's RPC and feed (cross-origin allow-list)", () => {
    const layout = createLayout(join(dir, 'net'), {
      validators: 3,
      clients: 1,
      host: '127.0.0.1',
      basePort: 40_000,
      instance: 'fractal-layout-test',
      blockInterval: 100,
    });
    const rpcs = layout.nodes.map((n) => n.rpc);
    layout.nodes.forEach((n, i) => {
      expect(loadNodeConfig(n.config).rpc.corsAllowedOrigins).toEqual(rpcs.filter((_, j) => j !== i));
    });
    // the devnet's one page is served by the first node and reads every node's feed
    const page = new URL(vizUrlOf(rpcs));
    expect(page.origin).toBe(rpcs[0]);
  });
});
