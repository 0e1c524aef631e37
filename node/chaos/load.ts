/**
 * The chaos harness's clients: steady demo-token load (mints, then plain and encrypted transfers,
 * each spending its own minted note) submitted to whichever validators are up, every envelope
 * tracked by hash with what admission said; the first receipt announced for each (receipts
 * subscriptions on every node, renewed across restarts); replays of committed envelopes; and spam
 * from unfunded keys with huge fees.
 *
 * A transfer a node admitted can be lost if that node dies before passing it on (mempools are
 * memory): like a real client, the workload submits it again (same bytes) to another node when no
 * receipt came for a while, so that at the end every admitted transfer must have been executed.
 */
import { Random, seedState } from '../../runtime/random.ts';
import { toHex } from '../../wire/commit.ts';
import { keyPairFromSeed } from '../../wire/sign.ts';
import {
  buildMint,
  buildTransfer,
  type EpochKeyJson,
  envelopeFor,
  type NoteJson,
  notesOf,
  tokenOf,
} from '../client.ts';
import { RpcClient, RpcError, RpcTransportError } from '../rpc/index.ts';
import { type ChaosCluster, INSTANCE } from './cluster.ts';
import type { ReceiptView } from './invariants.ts';

export const NOTE_AMOUNT = 1_000n;
const MINT_BATCH = 200;
const FEE = 10n;
/** a spam envelope's fee: far above what any honest one pays, from a key that has nothing */
const SPAM_FEE = 1_000_000_000_000n;
const MAX_IN_FLIGHT = 32;
/** no receipt this long after its last submission: submit the envelope again elsewhere */
const RESUBMIT_AFTER_MS = 30_000;
const MAX_SUBMITS = 8;

export type EnvelopeKind = 'mint' | 'plain' | 'encrypted';

export interface Tracked {
  readonly bytes: Uint8Array;
  readonly kind: EnvelopeKind;
  /** mints: the amount it creates */
  readonly amount: bigint;
  /** some node answered `admitted` */
  admitted: boolean;
  /** a submission got no answer (the node went away): it may or may not have been admitted */
  unknown: boolean;
  submits: number;
  lastSubmit: number;
}

export interface SeenReceipt extends ReceiptView {
  readonly at: number;
  readonly node: string;
}

export type SubmitResult = { ok: true } | { ok: false; reason: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class Workload {
  readonly tracked = new Map<string, Tracked>();
  readonly firstSeen = new Map<string, SeenReceipt>();
  /** honest envelopes refused at admission, by reason */
  readonly refusals: Record<string, number> = {};
  readonly replays = { submitted: 0, admitted: 0, refused: {} as Record<string, number> };
  readonly spam = {
    submitted: 0,
    admitted: 0,
    refused: {} as Record<string, number>,
    hashes: new Set<string>(),
  };
  resubmitted = 0;
  /** the demo token minted and accepted */
  minted = 0n;
  private readonly random: Random;
  private readonly token;
  private readonly clientKeys: Uint8Array[];
  private readonly instance: string;
  private readonly notes: { client: number; note: NoteJson }[] = [];
  private nextNote = 0;
  private inFlight = 0;
  private sending = false;
  private closed = false;
  private readonly loops: Promise<void>[] = [];
  /** executed envelopes in the order their receipts came (what replays pick from) */
  private readonly executedOrder: string[] = [];
  private ranOut = false;

  constructor(
    private readonly cluster: ChaosCluster,
    seed: number,
    private readonly rate: number,
    private readonly out: (line: string) => void,
  ) {
    this.random = new Random(seedState(seed, 'chaos/load'));
    this.token = tokenOf(keyPairFromSeed(cluster.layout.authority).publicKey);
    this.clientKeys = cluster.layout.clients.map((s) => keyPairFromSeed(s).publicKey);
    this.instance = INSTANCE;
  }

  /** Subscribes to every node's receipts (again after each restart) until `close`. */
  watchReceipts(): void {
    for (const i of this.cluster.layout.nodes.keys()) this.loops.push(this.watch(i));
  }

  private async watch(i: number): Promise<void> {
    const node = this.cluster.names[i]!;
    while (!this.closed) {
      if (this.cluster.state[i] !== 'up') {
        await sleep(300);
        continue;
      }
      const client = new RpcClient(this.cluster.layout.nodes[i]!.rpc, { timeoutMs: 5_000 });
      let ended!: () => void;
      const end = new Promise<void>((r) => {
        ended = r;
      });
      try {
        await client.subscribe('receipts', (payload) => this.onReceipts(node, payload), {
          onEnd: () => ended(),
        });
        const alive = () => this.cluster.state[i] !== 'down';
        while (!this.closed && alive()) {
          if (await Promise.race([end.then(() => true), sleep(500).then(() => false)])) break;
        }
      } catch {
        await sleep(500);
      } finally {
        await client.close().catch(() => {});
      }
    }
  }

  private onReceipts(node: string, payload: unknown): void {
    const p = payload as {
      height: string;
      receipts: { hash: string; accepted: boolean; phase: string; reason: string }[];
    };
    const at = Date.now();
    for (const r of p.receipts) {
      if (this.firstSeen.has(r.hash)) continue;
      if (!this.tracked.has(r.hash) && !this.spam.hashes.has(r.hash)) continue;
      this.firstSeen.set(r.hash, {
        height: p.height,
        accepted: r.accepted,
        phase: r.phase,
        reason: r.reason,
        at,
        node,
      });
      if (this.tracked.has(r.hash)) this.executedOrder.push(r.hash);
    }
  }

  /** Submits to node i; a refusal comes back with its reason, no answer as `no-answer`. */
  async submitTo(i: number, bytes: Uint8Array): Promise<SubmitResult> {
    try {
      await this.cluster.rpcs[i]!.callWs('submit', { tx: toHex(bytes) });
      return { ok: true };
    } catch (e) {
      if (e instanceof RpcError) {
        const reason = (e.data as { reason?: string } | undefined)?.reason;
        return { ok: false, reason: reason ?? `error ${e.code}` };
      }
      if (e instanceof RpcTransportError) return { ok: false, reason: 'no-answer' };
      return { ok: false, reason: (e as Error).message };
    }
  }

  private pickUp(): number | undefined {
    const up = this.cluster.upNodes();
    return up.length === 0 ? undefined : this.random.pick(up);
  }

  /** Height to count expiry from: what node i reported last (its own view decides admission). */
  private heightAt(i: number): bigint {
    return BigInt(this.cluster.status[i]?.height ?? this.cluster.maxHeight());
  }

  private epochKey(): EpochKeyJson | undefined {
    for (const s of this.cluster.status) if (s?.epochKey) return s.epochKey;
    return undefined;
  }

  /** Submits a tracked envelope to up nodes until one answers (at most three tries). */
  private async send(t: Tracked, first?: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const i = attempt === 0 && first !== undefined ? first : this.pickUp();
      if (i === undefined) {
        await sleep(500);
        continue;
      }
      t.submits++;
      t.lastSubmit = Date.now();
      const r = await this.submitTo(i, t.bytes);
      if (r.ok) {
        t.admitted = true;
        return;
      }
      if (r.reason === 'no-answer') {
        t.unknown = true;
        continue;
      }
      // a copy already pooled or committed somewhere: it was admitted before
      if (t.submits > 1 && (r.reason === 'duplicate' || r.reason === 'replay')) return;
      bump(this.refusals, r.reason);
      return;
    }
  }

  /** Mints `perClient` notes to every client, waits for them to execute, and reads them back. */
  async mint(perClient: number, timeoutMs: number): Promise<void> {
    const { layout } = this.cluster;
    const hashes: string[] = [];
    for (const [c, owner] of this.clientKeys.entries()) {
      for (let k = 0; k < perClient; k += MINT_BATCH) {
        const count = Math.min(MINT_BATCH, perClient - k);
        const i = c % layout.nodes.length;
        const tx = buildMint(this.token, layout.authority, owner, Array(count).fill(NOTE_AMOUNT));
        const env = envelopeFor(tx, {
          instance: this.instance,
          payerKey: layout.authority,
          fee: FEE,
          height: this.heightAt(i),
        });
        const t: Tracked = {
          bytes: env.bytes,
          kind: 'mint',
          amount: NOTE_AMOUNT * BigInt(count),
          admitted: false,
          unknown: false,
          submits: 0,
          lastSubmit: 0,
        };
        this.tracked.set(env.hash, t);
        hashes.push(env.hash);
        await this.send(t, i);
      }
    }
    const deadline = Date.now() + timeoutMs;
    while (hashes.some((h) => !this.firstSeen.has(h))) {
      if (Date.now() > deadline)
        throw new Error(
          `only ${hashes.filter((h) => this.firstSeen.has(h)).length} of ${hashes.length} mints were executed in ${timeoutMs / 1000} s`,
        );
      await this.resubmitMissing(10_000);
      await sleep(500);
    }
    const refused = hashes.filter((h) => !this.firstSeen.get(h)!.accepted);
    if (refused.length > 0) {
      const r = this.firstSeen.get(refused[0]!)!;
      throw new Error(`${refused.length} mints were refused at execution (${r.phase}: ${r.reason})`);
    }
    for (const h of hashes) this.minted += this.tracked.get(h)!.amount;
    // every node has executed them before their notes are read
    const last = Math.max(...hashes.map((h) => Number(this.firstSeen.get(h)!.height)));
    while (this.cluster.status.some((s) => (s?.executedHeight ?? 0) < last)) {
      if (Date.now() > deadline) throw new Error('the nodes did not all execute the mints');
      await this.cluster.poll();
      await sleep(300);
    }
    const byClient: { client: number; note: NoteJson }[][] = [];
    for (const [c, owner] of this.clientKeys.entries()) {
      const list = await notesOf(this.cluster.rpcs[0]!, toHex(owner));
      byClient.push(
        list
          .filter((n) => BigInt(n.amount) === NOTE_AMOUNT)
          .sort((a, b) => a.key.localeCompare(b.key))
          .map((note) => ({ client: c, note })),
      );
    }
    // round robin over the clients: consecutive transfers come from different payers
    const most = Math.max(...byClient.map((l) => l.length));
    for (let k = 0; k < most; k++)
      for (const list of byClient) if (k < list.length) this.notes.push(list[k]!);
    this.out(
      `chaos: minted ${perClient} notes of ${NOTE_AMOUNT} to each of ${this.clientKeys.length} clients (${this.notes.length} to spend)`,
    );
  }

  /** Starts sending transfers at `rate` per second (half of them encrypted), and the resubmitter. */
  startTransfers(): void {
    this.sending = true;
    this.loops.push(this.sender(), this.resubmitter());
  }

  /** Stops new transfers and waits for those in flight. */
  async stopTransfers(): Promise<void> {
    this.sending = false;
    while (this.inFlight > 0) await sleep(50);
  }

  private async sender(): Promise<void> {
    const interval = 1000 / this.rate;
    let next = Date.now();
    while (this.sending && !this.closed) {
      next += interval;
      if (this.inFlight < MAX_IN_FLIGHT) {
        if (this.nextNote >= this.notes.length) {
          if (!this.ranOut) this.out('chaos: the workload has spent every minted note; no more transfers');
          this.ranOut = true;
        } else {
          this.inFlight++;
          void this.transfer(this.nextNote++).finally(() => this.inFlight--);
        }
      }
      await sleep(Math.max(0, next - Date.now()));
    }
  }

  private async transfer(k: number): Promise<void> {
    const { client, note } = this.notes[k]!;
    const seed = this.cluster.layout.clients[client]!;
    const to = this.clientKeys[(client + 1) % this.clientKeys.length]!;
    const first = this.pickUp();
    const epochKey = this.epochKey();
    const encrypted = epochKey !== undefined && this.random.bool();
    const tx = buildTransfer(this.token, seed, note, to, 1n + BigInt(k % 100));
    const env = envelopeFor(tx, {
      instance: this.instance,
      payerKey: seed,
      fee: FEE,
      height: this.heightAt(first ?? 0),
      ...(encrypted ? { epochKey } : {}),
    });
    const t: Tracked = {
      bytes: env.bytes,
      kind: encrypted ? 'encrypted' : 'plain',
      amount: 0n,
      admitted: false,
      unknown: false,
      submits: 0,
      lastSubmit: 0,
    };
    this.tracked.set(env.hash, t);
    await this.send(t, first);
  }

  private async resubmitter(): Promise<void> {
    while (!this.closed) {
      await sleep(2_000);
      await this.resubmitMissing(RESUBMIT_AFTER_MS);
    }
  }

  /** Submits again what was admitted (or may have been) but has no receipt `after` ms on. */
  async resubmitMissing(after: number): Promise<number> {
    const now = Date.now();
    const due = [...this.tracked].filter(
      ([h, t]) =>
        (t.admitted || t.unknown) &&
        !this.firstSeen.has(h) &&
        now - t.lastSubmit > after &&
        t.submits < MAX_SUBMITS,
    );
    await Promise.all(
      due.map(async ([, t]) => {
        this.resubmitted++;
        await this.send(t);
      }),
    );
    return due.length;
  }

  /** Admitted envelopes (or of unknown fate) without a receipt yet. */
  missing(): string[] {
    return [...this.tracked]
      .filter(([h, t]) => (t.admitted || t.unknown) && !this.firstSeen.has(h))
      .map(([h]) => h);
  }

  /** Marks envelopes as executed by their receipt read over RPC (the subscriptions missed it). */
  noteExecuted(hash: string, r: ReceiptView, node: string): void {
    if (!this.firstSeen.has(hash)) {
      this.firstSeen.set(hash, { ...r, at: Date.now(), node });
      this.executedOrder.push(hash);
    }
  }

  /** Re-submits `count` committed envelopes (recent ones, so not expired): to node `to` first, half of them. */
  async replay(count: number, to?: number): Promise<{ refused: Record<string, number>; admitted: number }> {
    const recent = this.executedOrder.slice(-500);
    const result = { refused: {} as Record<string, number>, admitted: 0 };
    if (recent.length === 0) return result;
    await Promise.all(
      Array.from({ length: count }, async (_, k) => {
        const hash = this.random.pick(recent);
        const node = to !== undefined && k < Math.ceil(count / 2) ? to : this.pickUp();
        if (node === undefined) return;
        this.replays.submitted++;
        const r = await this.submitTo(node, this.tracked.get(hash)!.bytes);
        if (r.ok) {
          this.replays.admitted++;
          result.admitted++;
        } else {
          bump(this.replays.refused, r.reason);
          bump(result.refused, r.reason);
        }
      }),
    );
    return result;
  }

  /** `envelopes` from `keys` fresh unfunded keys with huge fees, half encrypted, as fast as taken. */
  async spamBurst(
    keys: number,
    envelopes: number,
  ): Promise<{ refused: Record<string, number>; admitted: number }> {
    const seeds = Array.from({ length: keys }, () => this.random.bytes(32));
    const epochKey = this.epochKey();
    const result = { refused: {} as Record<string, number>, admitted: 0 };
    let next = 0;
    const worker = async () => {
      while (next < envelopes) {
        const k = next++;
        const seed = seeds[k % keys]!;
        const node = this.pickUp();
        if (node === undefined) return;
        // any transaction will do: admission must refuse it for its fee before looking inside
        const tx = buildMint(this.token, seed, keyPairFromSeed(seed).publicKey, [1n]);
        const env = envelopeFor(tx, {
          instance: this.instance,
          payerKey: seed,
          fee: SPAM_FEE + BigInt(this.random.int(1_000_000)),
          height: this.heightAt(node),
          ...(epochKey !== undefined && k % 2 === 1 ? { epochKey } : {}),
        });
        this.spam.hashes.add(env.hash);
        this.spam.submitted++;
        const r = await this.submitTo(node, env.bytes);
        if (r.ok) {
          this.spam.admitted++;
          result.admitted++;
        } else {
          bump(this.spam.refused, r.reason);
          bump(result.refused, r.reason);
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    return result;
  }

  /** Honest transfers whose first receipt came within [from, to]. */
  executedBetween(from: number, to: number): number {
    let n = 0;
    for (const [h, r] of this.firstSeen)
      if (r.at >= from && r.at <= to && this.tracked.get(h)?.kind !== 'mint') n++;
    return n;
  }

  counts(): { submitted: number; admitted: number; unknown: number; executed: number; accepted: number } {
    let submitted = 0;
    let admitted = 0;
    let unknown = 0;
    let executed = 0;
    let accepted = 0;
    for (const [h, t] of this.tracked) {
      if (t.kind === 'mint') continue;
      submitted++;
      if (t.admitted) admitted++;
      else if (t.unknown) unknown++;
      const r = this.firstSeen.get(h);
      if (r !== undefined) {
        executed++;
        if (r.accepted) accepted++;
      }
    }
    return { submitted, admitted, unknown, executed, accepted };
  }

  async close(): Promise<void> {
    this.sending = false;
    this.closed = true;
    await Promise.all(this.loops);
  }
}
