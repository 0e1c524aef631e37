/**
 * `fractal chaos` / `npm run chaos`: a devnet of validator processes on loopback under steady load,
 * perturbed by a schedule drawn from a seed (node/chaos/schedule.ts): kill -9 and restart, pause,
 * two validators down, partitions and slow links through fault proxies, a full disk, replayed
 * envelopes, spam from unfunded keys. After each perturbation it heals and waits for the network
 * to move on; at the end it settles and checks the invariants of node/chaos/invariants.ts, prints
 * a report, and fails (exit 1) on any violation. The seed fixes the schedule and the workload's
 * choices; the timing of a live network is not replayable, so a failure report names the node
 * logs (kept in the run folder) as well as the seed.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { keyPairFromSeed } from '../../wire/sign.ts';
import { notesOf } from '../client.ts';
import { describeExit } from '../devnet.ts';
import { ERR } from '../rpc/index.ts';
import { readSigningLog, type SigningLogEntry } from '../signing-state.ts';
import { ChaosCluster, SIGNING_LOG } from './cluster.ts';
import {
  type BlockView,
  type ChainView,
  checkChain,
  checkFees,
  checkReceipts,
  checkSigningLogs,
  checkSupply,
  type ReceiptView,
  type Violation,
} from './invariants.ts';
import { NOTE_AMOUNT, Workload } from './load.ts';
import type { ProxyStats } from './proxy.ts';
import {
  describePerturbation,
  FULL_ROUND_SECONDS,
  fullDiskNodes,
  PERTURBATION_KINDS,
  type Perturbation,
  type PerturbationKind,
  planPerturbations,
} from './schedule.ts';

export interface ChaosOptions {
  /** seconds of perturbation */
  duration: number;
  seed: number;
  validators: number;
  dir: string;
  basePort: number;
  /** transfers per second */
  rate: number;
  keep: boolean;
  out?: (line: string) => void;
}

export interface InvariantResult {
  name: string;
  what: string;
  violations: string[];
}

export interface ChaosReport {
  seed: number;
  validators: number;
  duration: number;
  wallSeconds: number;
  diskMode: 'tmpfs' | 'quota';
  perturbations: Record<PerturbationKind, number>;
  planned: number;
  heights: Record<string, number>;
  compared: { blocks: number; roots: number };
  transfers: { submitted: number; admitted: number; unknown: number; executed: number; accepted: number };
  resubmitted: number;
  minted: string;
  refusals: Record<string, number>;
  replays: { submitted: number; admitted: number; refused: Record<string, number> };
  links: ProxyStats;
  spam: { submitted: number; admitted: number; refused: Record<string, number> };
  invariants: InvariantResult[];
  dir: string;
  kept: boolean;
}

/** Every invariant the report lists, with what it means. */
const INVARIANTS: [string, string][] = [
  ['agreement', 'the same block hash at every height on every node'],
  ['state roots', 'the same state root after every height on every node'],
  ['exactly once', 'every admitted transfer in exactly one block, with a receipt on every node'],
  ['first receipt', 'every receipt agreed, for the first inclusion, never overwritten'],
  ['supply', 'the clients hold what was minted (every node)'],
  ['fees', 'fee balances sum to the genesis total (every node)'],
  ['no double sign', 'no (validator, height, round, step) signed twice; no equivocation evidence'],
  ['readable', 'every block, root and receipt read back'],
  ['links', 'every connection a node dialled runs through a fault proxy'],
  ['liveness', 'after every heal, every node reaches a new height'],
  ['node exits', 'no node exits unless made to'],
  ['full disk', 'a full disk stops the node with its one line; it resumes with room'],
  ['spam refused', 'spam from unfunded keys is refused cannot-pay and never included'],
  ['honest not starved', 'honest transfers execute while spam arrives'],
  ['coverage', `a run of ${FULL_ROUND_SECONDS} s or more exercises every perturbation kind`],
];

const RECOVERY_MS = 90_000;
const SETTLE_MS = 120_000;
const BATCH = 100;
const DISK_FULL_LINE = /the node stopped: the disk is full[^\n]*/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type BatchAnswer = { ok: true; result: unknown } | { ok: false; code: number; message: string };

/** JSON-RPC batches of `method` over HTTP (at most BATCH per request). */
async function batchCall(url: string, method: string, params: readonly unknown[]): Promise<BatchAnswer[]> {
  const answers: BatchAnswer[] = [];
  for (let at = 0; at < params.length; at += BATCH) {
    const chunk = params.slice(at, at + BATCH);
    const body = chunk.map((p, k) => ({ jsonrpc: '2.0', id: k, method, params: p }));
    let replies: { id: number; result?: unknown; error?: { code: number; message: string } }[];
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      replies = (await res.json()) as typeof replies;
      if (!Array.isArray(replies)) throw new Error('the batch answer is not an array');
    } catch (e) {
      for (const _ of chunk) answers.push({ ok: false, code: 0, message: (e as Error).message });
      continue;
    }
    const byId = new Map(replies.map((r) => [r.id, r]));
    for (const k of chunk.keys()) {
      const r = byId.get(k);
      if (r === undefined) answers.push({ ok: false, code: 0, message: 'no answer in the batch' });
      else if (r.error !== undefined)
        answers.push({ ok: false, code: r.error.code, message: r.error.message });
      else answers.push({ ok: true, result: r.result });
    }
  }
  return answers;
}

export async function runChaos(o: ChaosOptions): Promise<{ ok: boolean; report: ChaosReport }> {
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const dir = resolve(o.dir);
  const t0 = Date.now();
  const clock = () => `+${((Date.now() - t0) / 1000).toFixed(1)}s`;
  const plan = planPerturbations({ seed: o.seed, duration: o.duration, validators: o.validators });
  out(
    `chaos: seed ${o.seed} (the same --seed gives the same schedule), ${o.validators} validators, ${o.duration} s of perturbation, ${o.rate} transfers/s, in ${dir}`,
  );
  const cluster = await ChaosCluster.create({
    dir,
    validators: o.validators,
    basePort: o.basePort,
    fullDisk: fullDiskNodes(plan),
    out,
  });
  const names = cluster.names;
  const violations: Violation[] = [];
  const flag = (invariant: string, detail: string) => {
    violations.push({ invariant, detail });
    out(`chaos: ${clock()} VIOLATION ${invariant}: ${detail}`);
  };
  const counts = Object.fromEntries(PERTURBATION_KINDS.map((k) => [k, 0])) as Record<
    PerturbationKind,
    number
  >;
  const workload = new Workload(cluster, o.seed, o.rate, out);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    out('\nchaos: interrupted, stopping the nodes…');
    void (async () => {
      await workload.close().catch(() => {});
      await cluster.stop().catch(() => {});
      cluster.cleanup(true);
      out(`chaos: the run folder stays in ${dir}`);
      process.exit(130);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let statusTimer: NodeJS.Timeout | undefined;
  let report: ChaosReport | undefined;

  /** Starts node i and replays a few committed envelopes to it at once (the restart case of finding 1). */
  const restart = async (i: number, why: string): Promise<void> => {
    if (!(await cluster.start(i))) {
      flag('node exits', `${names[i]} did not come back after ${why} (its log: ${cluster.logOf(i)})`);
      return;
    }
    const r = await workload.replay(10, i);
    const refused = Object.entries(r.refused)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out(
      `chaos: ${clock()}   ${names[i]} is back at height ${cluster.status[i]?.height}; replays to it: ${refused || 'none'}${r.admitted > 0 ? `, admitted ${r.admitted}` : ''}`,
    );
  };

  const recover = async (after: string): Promise<void> => {
    const start = Date.now();
    await cluster.poll();
    const target = cluster.maxHeight() + 1;
    while (Date.now() - start < RECOVERY_MS) {
      await sleep(500);
      await cluster.poll();
      const behind = names.filter((_, i) => {
        const s = cluster.status[i];
        return cluster.state[i] !== 'up' || s === undefined || s.at < start || s.height < target;
      });
      if (behind.length === 0) {
        out(
          `chaos: ${clock()}   recovered: every node past height ${target - 1} in ${((Date.now() - start) / 1000).toFixed(1)} s`,
        );
        return;
      }
    }
    const where = names.map((n, i) => `${n}@${cluster.status[i]?.height ?? cluster.state[i]}`).join(' ');
    flag(
      'liveness',
      `after ${after}, not every node reached height ${target} within ${RECOVERY_MS / 1000} s (${where})`,
    );
  };

  const fullDisk = async (i: number): Promise<boolean> => {
    let how: string;
    let exit: ReturnType<typeof cluster.expectExit>;
    if (cluster.diskMode === 'tmpfs') {
      exit = cluster.expectExit(i);
      how = cluster.fillDisk(i);
    } else {
      await cluster.kill(i, 'SIGTERM');
      how = cluster.fillDisk(i);
      exit = cluster.expectExit(i);
      if (!(await cluster.start(i))) {
        // it may have filled up (and stopped) before its RPC answered: the exit below says
      }
    }
    out(`chaos: ${clock()}   ${names[i]}: ${how}`);
    const timeout = cluster.diskMode === 'tmpfs' ? 120_000 : 240_000;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      exit,
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), timeout);
      }),
    ]);
    clearTimeout(timer);
    if (ended === undefined) {
      cluster.cancelExpectedExit(i);
      cluster.freeDisk(i);
      flag(
        'full disk',
        `${names[i]} kept running ${timeout / 1000} s on a full disk (its log: ${cluster.logOf(i)})`,
      );
      return false;
    }
    const line = DISK_FULL_LINE.exec(cluster.logTail(i))?.[0];
    if (ended.code !== 1 || line === undefined) {
      flag(
        'full disk',
        `${describeExit(ended)} on a full disk without the line "the node stopped: the disk is full…" (its log: ${cluster.logOf(i)})`,
      );
    } else
      out(
        `chaos: ${clock()}   ${names[i]} stopped, exit code 1: ${line.slice(0, 160)}${line.length > 160 ? '…' : ''}`,
      );
    cluster.freeDisk(i);
    await sleep(1_000);
    await restart(i, 'its disk was freed');
    return true;
  };

  const perform = async (p: Perturbation): Promise<boolean> => {
    const all = [...names.keys()];
    switch (p.kind) {
      case 'kill':
        await cluster.kill(p.node);
        await sleep(p.downMs);
        await restart(p.node, 'kill -9');
        return true;
      case 'pause':
        cluster.pause(p.node);
        await sleep(p.pausedMs);
        cluster.resume(p.node);
        return true;
      case 'two-down':
        await Promise.all(p.nodes.map((i) => cluster.kill(i)));
        await sleep(p.downMs);
        await Promise.all(p.nodes.map((i) => restart(i, 'kill -9')));
        return true;
      case 'partition':
        cluster.setLinks(
          p.side,
          all.filter((i) => !p.side.includes(i)),
          { kind: p.mode },
        );
        await sleep(p.forMs);
        cluster.healLinks();
        return true;
      case 'slow-links':
        cluster.setLinks(p.node === null ? all : [p.node], all, { kind: 'delay', ms: p.delayMs });
        await sleep(p.forMs);
        cluster.healLinks();
        return true;
      case 'full-disk':
        return fullDisk(p.node);
      case 'replay': {
        await cluster.kill(p.node);
        if (!(await cluster.start(p.node))) {
          flag(
            'node exits',
            `${names[p.node]} did not come back after kill -9 (its log: ${cluster.logOf(p.node)})`,
          );
          return false;
        }
        const r = await workload.replay(p.count, p.node);
        const refused = Object.entries(r.refused)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        out(
          `chaos: ${clock()}   replayed ${p.count} (half to ${names[p.node]}, just restarted): refused ${refused || 'none'}; admitted ${r.admitted}`,
        );
        return true;
      }
      case 'spam': {
        const from = Date.now();
        const r = await workload.spamBurst(p.keys, p.envelopes);
        const to = Date.now();
        await sleep(5_000);
        const honest = workload.executedBetween(from, to + 5_000);
        const refused = Object.entries(r.refused)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        out(
          `chaos: ${clock()}   spam refused: ${refused || 'none'}; admitted ${r.admitted}; honest transfers executed meanwhile: ${honest}`,
        );
        if (r.admitted > 0)
          flag('spam refused', `${r.admitted} spam envelopes from unfunded keys were admitted`);
        const other = Object.entries(r.refused).filter(([k]) => k !== 'cannot-pay' && k !== 'no-answer');
        if (other.length > 0)
          flag(
            'spam refused',
            `spam refused for other reasons than cannot-pay: ${other.map(([k, v]) => `${k} ${v}`).join(', ')}`,
          );
        if (honest === 0)
          flag(
            'honest not starved',
            `no honest transfer executed during the spam burst (${((to - from) / 1000).toFixed(1)} s + 5 s)`,
          );
        return true;
      }
    }
  };

  let ok = false;
  try {
    const started = await Promise.all(names.map((_, i) => cluster.start(i, 90_000)));
    const notUp = names.filter((_, i) => !started[i]);
    if (notUp.length > 0)
      throw new Error(
        `${notUp.join(', ')} did not start; see ${notUp.map((_, i) => cluster.logOf(i)).join(', ')}`,
      );
    cluster.startPolling();
    out(
      `chaos: ${clock()} ${names.length} validators up (every link through a fault proxy; full disks: ${cluster.diskMode})`,
    );
    const dkgDeadline = Date.now() + 120_000;
    while (cluster.status.some((s) => s?.epochKey == null)) {
      if (Date.now() > dkgDeadline)
        throw new Error('no epoch key on every node after 120 s (the DKG); see the node logs');
      await sleep(300);
    }
    out(`chaos: ${clock()} DKG done at height ${cluster.maxHeight()}`);
    workload.watchReceipts();
    const runSeconds = Math.max(
      o.duration,
      plan.filter((p) => p.required).reduce((t, p) => t + p.nominalMs / 1000, 0),
    );
    const perClient = Math.min(
      2_000,
      Math.ceil((o.rate * (runSeconds * 1.5 + 60)) / cluster.layout.clients.length) + 1,
    );
    await workload.mint(perClient, 180_000);
    workload.startTransfers();
    statusTimer = setInterval(() => {
      const c = workload.counts();
      const heights = names.map(
        (n, i) => `${n}@${cluster.state[i] === 'up' ? (cluster.status[i]?.height ?? '?') : cluster.state[i]}`,
      );
      out(
        `chaos: ${clock()} status ${heights.join(' ')} | transfers ${c.admitted} admitted, ${c.executed} executed | refused ${JSON.stringify(workload.refusals)}`,
      );
    }, 10_000);

    const deadline = Date.now() + o.duration * 1000;
    let ran = 0;
    for (const ev of plan) {
      if (Date.now() >= deadline && !ev.required) break;
      await sleep(ev.gapMs);
      const kind = ev.perturbation.kind;
      out(`chaos: ${clock()} #${ev.index + 1} ${kind}: ${describePerturbation(ev.perturbation, names)}`);
      if (await perform(ev.perturbation)) counts[kind]++;
      ran++;
      await recover(`#${ev.index + 1} ${kind}`);
    }
    out(`chaos: ${clock()} ${ran} perturbations done; stopping the load and settling`);

    // settle: everything healed, every admitted transfer executed (resubmitted if it was lost)
    await workload.stopTransfers();
    cluster.healLinks();
    for (const i of names.keys()) if (cluster.state[i] === 'paused') cluster.resume(i);
    for (const i of names.keys()) if (cluster.state[i] === 'down') await restart(i, 'the end of the run');
    await recover('the end of the run');
    const settleBy = Date.now() + SETTLE_MS;
    for (let round = 0; workload.missing().length > 0 && Date.now() < settleBy; round++) {
      if (round % 10 === 9) {
        // the subscriptions may have missed a receipt (a node restarting): ask for the missing ones
        const up = cluster.upNodes()[0];
        const missing = workload.missing();
        if (up !== undefined) {
          const answers = await batchCall(
            cluster.layout.nodes[up]!.rpc,
            'receipt',
            missing.map((hash) => ({ hash })),
          );
          answers.forEach((a, k) => {
            if (a.ok) workload.noteExecuted(missing[k]!, a.result as ReceiptView, names[up]!);
          });
        }
      }
      await workload.resubmitMissing(10_000);
      await sleep(1_000);
    }
    const lastReceipt = Math.max(0, ...[...workload.firstSeen.values()].map((r) => Number(r.height)));
    const caughtUpBy = Date.now() + 60_000;
    while (
      Date.now() < caughtUpBy &&
      cluster.status.some((s) => (s?.executedHeight ?? 0) < lastReceipt + 2)
    ) {
      await sleep(500);
      await cluster.poll();
    }
    clearInterval(statusTimer);
    statusTimer = undefined;
    await workload.close();
    out(`chaos: ${clock()} settled; checking the invariants`);

    // --- the checks ---
    await cluster.poll();
    const blocksUpTo = Math.min(...cluster.status.map((s) => s?.height ?? 0));
    const rootsUpTo = Math.min(...cluster.status.map((s) => s?.executedHeight ?? 0));
    const readable = (node: string, what: string, a: BatchAnswer) => {
      if (!a.ok && a.code !== ERR.NOT_FOUND)
        flag('readable', `${node}: ${what} failed: ${a.code} ${a.message}`);
    };
    const views: ChainView[] = [];
    for (const [i, node] of names.entries()) {
      const url = cluster.layout.nodes[i]!.rpc;
      const heights = Array.from({ length: blocksUpTo }, (_, k) => k + 1);
      const blocks = new Map<number, BlockView>();
      const roots = new Map<number, string>();
      const bs = await batchCall(
        url,
        'block',
        heights.map((h) => ({ height: String(h) })),
      );
      bs.forEach((a, k) => {
        if (a.ok) blocks.set(k + 1, a.result as BlockView);
        else readable(node, `block ${k + 1}`, a);
      });
      const rs = await batchCall(
        url,
        'appRoot',
        heights.slice(0, rootsUpTo).map((h) => ({ height: String(h) })),
      );
      rs.forEach((a, k) => {
        if (a.ok) roots.set(k + 1, (a.result as { root: string }).root);
        else readable(node, `appRoot ${k + 1}`, a);
      });
      views.push({ node, blocks, roots });
    }
    const chain = checkChain(views, blocksUpTo, rootsUpTo);
    violations.push(...chain.violations);
    for (const h of workload.spam.hashes) {
      const at = chain.firstInclusion.get(h);
      if (at !== undefined)
        violations.push({
          invariant: 'spam refused',
          detail: `spam envelope ${h.slice(0, 12)} was included at height ${at}`,
        });
    }

    const admitted = [...workload.tracked].filter(([, t]) => t.admitted).map(([h]) => h);
    const unknown = [...workload.tracked].filter(([, t]) => !t.admitted && t.unknown).map(([h]) => h);
    const asked = [...admitted, ...unknown];
    const receipts = new Map<string, Map<string, ReceiptView>>();
    for (const [i, node] of names.entries()) {
      const answers = await batchCall(
        cluster.layout.nodes[i]!.rpc,
        'receipt',
        asked.map((hash) => ({ hash })),
      );
      const mine = new Map<string, ReceiptView>();
      answers.forEach((a, k) => {
        if (a.ok) mine.set(asked[k]!, a.result as ReceiptView);
        else readable(node, `receipt ${asked[k]!.slice(0, 12)}`, a);
      });
      receipts.set(node, mine);
    }
    violations.push(
      ...checkReceipts({
        admitted,
        unknown,
        firstInclusion: chain.firstInclusion,
        firstSeen: workload.firstSeen,
        receipts,
      }),
    );

    const supply = new Map<string, bigint>();
    for (const [i, node] of names.entries()) {
      let total = 0n;
      let complete = true;
      for (const seed of cluster.layout.clients) {
        const owner = Buffer.from(keyPairFromSeed(seed).publicKey).toString('hex');
        try {
          for (const n of await notesOf(cluster.rpcs[i]!, owner)) total += BigInt(n.amount);
        } catch (e) {
          complete = false;
          flag('readable', `${node}: the notes of ${owner.slice(0, 12)} failed: ${(e as Error).message}`);
        }
      }
      if (complete) supply.set(node, total);
    }
    violations.push(...checkSupply(workload.minted, supply));

    const genesis = JSON.parse(readFileSync(cluster.layout.genesis, 'utf8')) as {
      feeAccounts: { publicKey: string; balance: string }[];
      validators: { publicKey: string }[];
    };
    const genesisFees = genesis.feeAccounts.reduce((t, a) => t + BigInt(a.balance), 0n);
    const accounts = [
      ...new Set([
        ...genesis.feeAccounts.map((a) => a.publicKey),
        ...genesis.validators.map((v) => v.publicKey),
      ]),
    ];
    const fees = new Map<string, bigint>();
    for (const [i, node] of names.entries()) {
      const answers = await batchCall(
        cluster.layout.nodes[i]!.rpc,
        'feeBalance',
        accounts.map((account) => ({ account })),
      );
      let total = 0n;
      answers.forEach((a, k) => {
        if (a.ok) total += BigInt((a.result as { balance: string }).balance);
        else readable(node, `feeBalance ${accounts[k]!.slice(0, 12)}`, a);
      });
      fees.set(node, total);
    }
    violations.push(...checkFees(genesisFees, fees));

    // with peer exchange off, a node dials only its proxies: no link may bypass its faults
    const proxyPorts = new Set<number>();
    for (const i of names.keys())
      for (const j of names.keys())
        if (i !== j) proxyPorts.add(ChaosCluster.proxyPort(o.basePort, names.length, i, j));
    for (const [i, node] of names.entries()) {
      try {
        const peers = await cluster.rpcs[i]!.call<{ direction: string; address?: string }[]>('peers');
        for (const peer of peers) {
          if (peer.direction !== 'out') continue;
          const port = peer.address === undefined ? Number.NaN : Number(new URL(peer.address).port);
          if (!proxyPorts.has(port))
            violations.push({
              invariant: 'links',
              detail: `${node} dialled ${peer.address ?? 'an unknown address'}, not a fault proxy`,
            });
        }
      } catch (e) {
        flag('readable', `${node}: peers failed: ${(e as Error).message}`);
      }
    }

    const logs = new Map<string, SigningLogEntry[]>();
    for (const [i, node] of names.entries()) {
      let text = '';
      try {
        text = readFileSync(join(cluster.home(i), SIGNING_LOG), 'utf8');
      } catch {
        violations.push({ invariant: 'no double sign', detail: `${node} has no signing log` });
      }
      logs.set(node, readSigningLog(text).entries);
    }
    violations.push(...checkSigningLogs(logs));
    const signatures = [...logs.values()].reduce((t, l) => t + l.length, 0);

    for (const e of cluster.unexpectedExits)
      violations.push({
        invariant: 'node exits',
        detail: `${describeExit(e)} on its own (its log: ${e.log})`,
      });
    if (o.duration >= FULL_ROUND_SECONDS) {
      const never = PERTURBATION_KINDS.filter((k) => counts[k] === 0);
      if (never.length > 0)
        violations.push({
          invariant: 'coverage',
          detail: `never exercised in a ${o.duration} s run: ${never.join(', ')}`,
        });
    }

    ok = violations.length === 0;
    const kept = o.keep || !ok;
    report = {
      seed: o.seed,
      validators: o.validators,
      duration: o.duration,
      wallSeconds: (Date.now() - t0) / 1000,
      diskMode: cluster.diskMode,
      perturbations: counts,
      planned: plan.length,
      heights: Object.fromEntries(names.map((n, i) => [n, cluster.status[i]?.height ?? -1])),
      compared: { blocks: blocksUpTo, roots: rootsUpTo },
      transfers: workload.counts(),
      resubmitted: workload.resubmitted,
      minted: workload.minted.toString(),
      refusals: workload.refusals,
      replays: workload.replays,
      links: cluster.linkStats(),
      spam: {
        submitted: workload.spam.submitted,
        admitted: workload.spam.admitted,
        refused: workload.spam.refused,
      },
      invariants: INVARIANTS.map(([name, what]) => ({
        name,
        what,
        violations: violations.filter((v) => v.invariant === name).map((v) => v.detail),
      })),
      dir,
      kept,
    };
    printReport(
      report,
      signatures,
      names.map((_, i) => cluster.logOf(i)),
      out,
    );
    return { ok, report };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (statusTimer !== undefined) clearInterval(statusTimer);
    if (!interrupted) {
      await workload.close().catch(() => {});
      await cluster.stop();
      const keep = o.keep || !ok;
      cluster.cleanup(keep);
      if (report === undefined)
        out(`chaos: the run failed before its checks; the run folder stays in ${dir}`);
    }
  }
}

const counted = (r: Record<string, number>) =>
  Object.keys(r).length === 0
    ? 'none'
    : Object.entries(r)
        .sort(([, a], [, b]) => b - a)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');

export function printReport(
  r: ChaosReport,
  signatures: number,
  logs: readonly string[],
  out: (l: string) => void,
): void {
  const failed = r.invariants.filter((i) => i.violations.length > 0);
  const ran = Object.values(r.perturbations).reduce((t, n) => t + n, 0);
  out('');
  out(
    `chaos report: seed ${r.seed}, ${r.validators} validators, ${r.duration} s of perturbation, ${r.wallSeconds.toFixed(0)} s wall`,
  );
  out(
    `  perturbations  ${PERTURBATION_KINDS.map((k) => `${k} ${r.perturbations[k]}`).join(', ')} (${ran} run, ${r.planned} planned; full disk by ${r.diskMode})`,
  );
  out(
    `  heights        ${Object.entries(r.heights)
      .map(([n, h]) => `${n}@${h}`)
      .join(' ')} (blocks compared 1..${r.compared.blocks}, state roots 1..${r.compared.roots})`,
  );
  const t = r.transfers;
  out(
    `  transfers      ${t.submitted} submitted, ${t.admitted} admitted, ${t.executed} executed (${t.accepted} accepted); ${r.resubmitted} resubmissions; ${t.unknown} of unknown fate`,
  );
  const l = r.links;
  out(
    `  links          ${l.accepted} connections through the fault proxies (${(l.up + l.down) >> 20} MiB), ${l.closed} closed by faults, ${l.refused} refused while cut, ${l.dropped} bytes dropped`,
  );
  out(`  minted         ${r.minted} of the demo token (notes of ${NOTE_AMOUNT})`);
  out(`  refused        honest: ${counted(r.refusals)}`);
  out(
    `                 replays: ${r.replays.submitted} sent, ${r.replays.admitted} admitted; refused ${counted(r.replays.refused)}`,
  );
  out(
    `                 spam: ${r.spam.submitted} sent, ${r.spam.admitted} admitted; refused ${counted(r.spam.refused)}`,
  );
  out(`  signatures     ${signatures} consensus signatures in the signing logs`);
  out('  invariants');
  for (const inv of r.invariants) {
    out(`    ${inv.violations.length === 0 ? 'OK      ' : 'VIOLATED'}  ${inv.name}: ${inv.what}`);
    for (const d of inv.violations.slice(0, 10)) out(`                - ${d}`);
    if (inv.violations.length > 10) out(`                … and ${inv.violations.length - 10} more`);
  }
  if (failed.length > 0) {
    out(`  node logs      ${logs.join(' ')}`);
    out(`  run folder     ${r.dir} (kept)`);
    out(`  result         FAIL: ${failed.map((i) => i.name).join(', ')} (seed ${r.seed})`);
  } else {
    out(`  run folder     ${r.dir}${r.kept ? ' (kept)' : ' (deleted)'}`);
    out('  result         PASS');
  }
}
