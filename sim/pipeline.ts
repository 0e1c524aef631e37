/**
 * The whole ordering pipeline in simulation: every node runs consensus, mempool, decryptor and
 * executor (with the token application); clients submit plain and threshold-encrypted mints; the
 * validators run the DKG on chain, then decrypt after ordering.
 *
 * Beyond the consensus invariants of `Cluster`, a run checks execution: every committed client
 * transaction is executed exactly once at every honest node, encrypted ones in committed order and
 * with exactly the plaintext the client encrypted; honest nodes hand their executors identical
 * blocks and reach identical state roots.
 */
import { defineToken, mintTx, registerTokenCode, signTx, type Token } from '../apps/token/index.ts';
import { type ConsensusPorts, wirePipelineApp } from '../assembly/assemble.ts';
import { encryptionKeyPair } from '../crypto/dkg.ts';
import { Ciphertext, encrypt } from '../crypto/tdh2.ts';
import type { EpochKey } from '../engines/decryptor/messages.ts';
import { genesisRoot, Ledger } from '../engines/executor/ledger.ts';
import { Transaction } from '../engines/executor/notes.ts';
import type { BlockReceipts } from '../engines/executor/ports.ts';
import { NoteStore } from '../engines/executor/state.ts';
import { mempoolEngine } from '../engines/mempool/engine.ts';
import type { EngineGraph } from '../runtime/graph.ts';
import { u64be } from '../storage/prefix.ts';
import { sha256, toHex } from '../wire/commit.ts';
import { type Envelope, envelopeSigningBytes, labelBytes, SignedEnvelope } from '../wire/envelope.ts';
import type { FeeAccount } from '../wire/fees.ts';
import { type CommittedBlock, OrderedBlock } from '../wire/ledger.ts';
import { encode } from '../wire/schema.ts';
import { createSigner, keyPairFromSeed, type Signer } from '../wire/sign.ts';
import { Cluster, type ClusterOptions, type ClusterReport, type SimNode } from './cluster.ts';

export const CHANNEL_MEMPOOL = 1;

/** A node's mempool `submit` port (clients hand it envelopes). */
export const MEMPOOL_SUBMIT = {
  dir: 'in',
  engine: 'mempool',
  port: 'submit',
  schema: mempoolEngine.inputs.submit,
} as const;

export interface WorkloadOptions {
  /** client transactions submitted over the run */
  txs: number;
  /** the share of them that is encrypted, 0..1 */
  encrypted: number;
  /** virtual milliseconds between two submissions */
  every: number;
  /** which plaintexts: runs that differ only here submit plaintexts of equal length and fee */
  variant?: number;
  /** execute on a coordinator and this many shard engines instead of the one-engine executor */
  shards?: number;
}

export interface PipelineOptions extends ClusterOptions {
  workload: WorkloadOptions;
  /** fee accounts at genesis beside the clients' (a simulation's own payers, e.g. solvers) */
  extraFeeAccounts?: readonly FeeAccount[];
}

export interface PipelineReport extends ClusterReport {
  /** per height, the committed client envelopes as `payer:nonce`, in block order */
  committedOrder: string[][];
  submitted: { plain: number; encrypted: number };
  committed: { plain: number; encrypted: number };
  /** client transactions executed (accepted or not) at the most advanced honest node */
  executed: number;
  accepted: number;
  /** client submissions refused at admission, by reason (e.g. a lagging node without the epoch key yet) */
  refused: Record<string, number>;
  dkgHeight: number | undefined;
}

interface ClientTx {
  encrypted: boolean;
  plaintext: Uint8Array;
  payer: string;
  nonce: bigint;
}

interface NodeLog {
  ordered: Map<bigint, OrderedBlock>;
  roots: Map<bigint, string>;
  receipts: Map<bigint, BlockReceipts>;
  /** client envelopes handed to this node's executor (kept as blocks arrive, for `workDone`) */
  clientExecuted: Set<string>;
  lastOrdered: bigint;
}

/** Heights after which a committed encrypted transaction must have been executed (shares need a few blocks). */
const SETTLE_HEIGHTS = 8n;
const LOST_GRACE_MS = 2_000;
/** Each client's fee balance at genesis: enough for every fee the workload pays. */
const CLIENT_FEE_BALANCE = 1_000_000_000n;

const MINT_ASSET = sha256(new TextEncoder().encode('fractal-sim-asset'));

export class PipelineCluster extends Cluster {
  private readonly workload: WorkloadOptions;
  protected readonly token: Token;
  /** the mint authority's ed25519 seed */
  protected readonly authority: Uint8Array;
  private readonly clients: Signer[] = [];
  private readonly secrets = new Map<string, Uint8Array>();
  private readonly dkgValidators: { publicKey: Uint8Array; encryptionKey: Uint8Array }[];
  private readonly threshold: number;
  private readonly logs = new Map<string, NodeLog>();
  private readonly blocks = new Map<bigint, CommittedBlock>();
  private readonly clientTxs = new Map<string, ClientTx>();
  /** client envelopes in committed blocks */
  private readonly committedClient = new Set<string>();
  private epochKey: EpochKey | undefined;
  private dkgHeight: number | undefined;
  private workloadStarted = false;
  /** client submissions the mempool refused, by reason */
  private readonly refused: Record<string, number> = {};
  private lastSubmitAt = 0;
  private submittedCount = { plain: 0, encrypted: 0 };
  /** the clients' fee accounts at genesis */
  private readonly feeAccounts: FeeAccount[];

  constructor(readonly po: PipelineOptions) {
    super(po);
    this.workload = po.workload;
    const authoritySeed = sha256(new TextEncoder().encode(`fractal-sim-mint:${po.seed}`));
    this.authority = authoritySeed;
    this.token = defineToken(keyPairFromSeed(authoritySeed).publicKey);
    for (let i = 0; i < 4; i++) {
      this.clients.push(
        po.ed25519
          ? createSigner(sha256(new TextEncoder().encode(`fractal-sim-client:${i}`)))
          : this.keyring.signer(`client-${i}`),
      );
    }
    const validators = this.nodes.filter((n) => !n.id.endsWith('-twin')).slice(0, po.validators);
    this.dkgValidators = validators.map((n) => {
      const secret = sha256(new TextEncoder().encode(`fractal-sim-dkg:${po.seed}:${n.key}`));
      this.secrets.set(n.key, secret);
      return { publicKey: n.signer.publicKey, encryptionKey: encryptionKeyPair(secret).publicKey };
    });
    this.threshold = Math.floor((po.validators - 1) / 3) + 1;
    this.feeAccounts = [
      ...this.clients.map((c) => ({ publicKey: c.publicKey, balance: CLIENT_FEE_BALANCE })),
      ...(po.extraFeeAccounts ?? []),
    ];
    for (const node of this.nodes) {
      this.logs.set(node.id, {
        ordered: new Map(),
        roots: new Map(),
        receipts: new Map(),
        clientExecuted: new Set(),
        lastOrdered: 0n,
      });
    }
  }

  protected override genesisAppRoot(): Uint8Array {
    return genesisRoot(this.feeAccounts);
  }

  protected override wireApp(node: SimNode, graph: EngineGraph, consensus: ConsensusPorts): void {
    // at every start, as a live node does (node/node.ts): the genesis state, written unless there
    // already (a power loss may have taken it before anything was synced)
    registerTokenCode(
      new NoteStore(node.storage),
      this.token,
      this.clients.map((c) => c.publicKey),
    );
    new Ledger(node.storage).seedGenesis(this.feeAccounts);
    const secret = this.secrets.get(node.key);
    const { mempool, decryptor, executor } = wirePipelineApp(graph, consensus, {
      instance: this.chainId,
      validators: this.dkgValidators,
      threshold: this.threshold,
      ...(secret === undefined ? {} : { secret }),
      ...(this.workload.shards === undefined ? {} : { shards: this.workload.shards }),
    });
    graph
      .envelopes(mempool.out.net)
      .subscribe((e) => this.sendFrame(node, CHANNEL_MEMPOOL, e.msg.to, e.msg.bytes, e.lamport));
    graph.observe(mempool.out.penalty).subscribe((p) => this.penalise(`mempool:${p.reason}`));
    graph.observe(mempool.out.admitted).subscribe((r) => {
      if (!r.ok && r.id.startsWith('client:')) {
        const reason = r.reason ?? 'unknown';
        this.refused[reason] = (this.refused[reason] ?? 0) + 1;
      }
    });
    const log = this.logs.get(node.id)!;
    graph.observe(decryptor.out.epochKey).subscribe((k) => this.onEpochKey(k, node));
    graph.observe(decryptor.out.ordered).subscribe((b) => {
      if (!node.honest) return;
      const earlier = log.ordered.get(b.height);
      if (earlier !== undefined) {
        // a re-sent block (app replay after a restart) must be the same block
        if (toHex(encodeOrdered(earlier)) !== toHex(encodeOrdered(b))) {
          this.violations.push({
            invariant: 'integrity',
            detail: `${node.id} re-sent a different ordered block ${b.height}`,
          });
        }
        return;
      }
      log.ordered.set(b.height, b);
      if (b.height > log.lastOrdered) log.lastOrdered = b.height;
      for (const t of b.txs) {
        const id = toHex(t.envelope);
        if (this.clientTxs.has(id)) log.clientExecuted.add(id);
      }
    });
    graph.observe(executor.out.appRoot).subscribe((r) => log.roots.set(r.height, toHex(r.root)));
    graph.observe(executor.out.receipts).subscribe((r) => log.receipts.set(r.height, r));
    graph.observe(consensus.out.committed).subscribe((c) => {
      if (!node.honest || this.blocks.has(c.block.header.height)) return;
      this.blocks.set(c.block.header.height, c);
      for (const bytes of c.block.txs) {
        const id = toHex(sha256(bytes));
        if (this.clientTxs.has(id)) this.committedClient.add(id);
      }
    });
  }

  protected override deliver(
    _node: SimNode,
    graph: EngineGraph,
    channel: number,
    from: string,
    bytes: Uint8Array,
    lamport: number,
  ): void {
    if (channel !== CHANNEL_MEMPOOL || !graph.engineNames().includes('mempool')) return;
    graph.send(
      { dir: 'in', engine: 'mempool', port: 'net', schema: mempoolEngine.inputs.net },
      { peer: from, bytes },
      `net:${from}`,
      lamport,
    );
  }

  /** Done once every client transaction is submitted and each committed one executed everywhere. */
  protected override workDone(): boolean {
    if (this.submittedCount.plain + this.submittedCount.encrypted < this.workload.txs) return false;
    // a transaction lost with a crashed node's mempool is never committed: wait for it a while only
    const lost = this.clientTxs.size - this.committedClient.size;
    if (lost > 0 && this.scheduler.now() < this.lastSubmitAt + LOST_GRACE_MS) return false;
    return this.honestUp().every((n) => {
      const log = this.logs.get(n.id)!;
      // every committed client tx reached this executor, and it finished the last block it was handed
      return log.clientExecuted.size >= this.committedClient.size && log.receipts.has(log.lastOrdered);
    });
  }

  /** The mempool feeds consensus; nothing to stand in for. */
  protected override afterCommit(_node: SimNode): void {}

  private onEpochKey(k: EpochKey, node: SimNode): void {
    if (this.epochKey === undefined) {
      this.epochKey = k;
      this.dkgHeight = Number(node.committed) + 1;
    } else if (node.honest && toHex(k.publicKey) !== toHex(this.epochKey.publicKey)) {
      this.violations.push({ invariant: 'agreement', detail: `${node.id} derived another epoch key` });
    }
    if (!this.workloadStarted) {
      this.workloadStarted = true;
      this.scheduleSubmission(0);
    }
  }

  private scheduleSubmission(i: number): void {
    if (i >= this.workload.txs) return;
    this.scheduler.at(this.scheduler.now() + this.workload.every, () => {
      this.submit(i);
      this.scheduleSubmission(i + 1);
    });
  }

  /** Client transaction i: a mint of a fixed-width amount, plain or encrypted, to some up node. */
  private submit(i: number): void {
    const key = this.epochKey;
    const client = this.clients[i % this.clients.length]!;
    // every `1/encrypted`-th transaction is encrypted, so the split is exact and seed-independent
    const encrypted =
      key !== undefined &&
      Math.floor((i + 1) * this.workload.encrypted) > Math.floor(i * this.workload.encrypted);
    const amount = 1_000_000n + BigInt(i) * 7n + BigInt(this.workload.variant ?? 0) * 1_000n;
    const tx = signTx(
      mintTx(this.token, [{ owner: client.publicKey, asset: MINT_ASSET, amount }], u64be(BigInt(i))),
      [this.authority],
    );
    const plaintext = encode(Transaction, tx);
    const nonce = BigInt(i);
    const base = {
      instance: this.chainId,
      payer: client.publicKey,
      fee: 10n + BigInt(i % 3),
      nonce,
      expiry: 10_000n,
    };
    let envelope: Envelope;
    if (encrypted && key !== undefined) {
      const label = labelBytes({ instance: this.chainId, epoch: key.epoch, payer: client.publicKey });
      const randomness = sha256(
        new TextEncoder().encode(`r:${this.o.seed}:${this.workload.variant ?? 0}:${i}`),
      );
      const ct = encrypt(key, plaintext, label, new Uint8Array([...randomness, ...sha256(randomness)]));
      envelope = {
        ...base,
        body: { tag: 'encrypted', value: { epoch: key.epoch, ciphertext: encode(Ciphertext, ct) } },
      };
      this.submittedCount.encrypted++;
    } else {
      envelope = { ...base, body: { tag: 'plain', value: plaintext } };
      this.submittedCount.plain++;
    }
    const signed = encode(SignedEnvelope, {
      envelope,
      signature: client.sign(envelopeSigningBytes(envelope)),
    });
    this.clientTxs.set(toHex(sha256(signed)), {
      encrypted,
      plaintext,
      payer: toHex(client.publicKey),
      nonce,
    });
    const targets = this.nodes.filter((n) => n.honest && n.up && n.graph !== undefined);
    const target = targets[i % Math.max(1, targets.length)];
    this.lastSubmitAt = this.scheduler.now();
    target?.graph?.send(MEMPOOL_SUBMIT, { id: `client:${i}`, bytes: signed }, 'client');
  }

  override run(): PipelineReport {
    const report = super.run();
    const committedOrder: string[][] = [];
    const committed = { plain: 0, encrypted: 0 };
    /** encrypted client envelopes in committed order, with the height that carried them */
    const encryptedOrder: { id: string; height: bigint }[] = [];
    const heights = [...this.blocks.keys()].sort((a, b) => (a < b ? -1 : 1));
    const counted = new Set<string>();
    for (const h of heights) {
      const order: string[] = [];
      for (const bytes of this.blocks.get(h)!.block.txs) {
        const id = toHex(sha256(bytes));
        const c = this.clientTxs.get(id);
        if (c === undefined) continue;
        order.push(`${c.payer.slice(0, 8)}:${c.nonce}`);
        if (counted.has(id)) continue; // included again: discarded as a replay at execution
        counted.add(id);
        if (c.encrypted) {
          committed.encrypted++;
          encryptedOrder.push({ id, height: h });
        } else committed.plain++;
      }
      committedOrder.push(order);
    }
    let executed = 0;
    let accepted = 0;
    const honest = this.nodes.filter((n) => n.honest);
    const reference = honest.reduce((a, b) => (b.committed > a.committed ? b : a), honest[0]!);
    for (const node of honest) {
      const log = this.logs.get(node.id)!;
      const seen = new Set<string>();
      const encryptedSeen: string[] = [];
      let clientExecuted = 0;
      for (const h of [...log.ordered.keys()].sort((a, b) => (a < b ? -1 : 1))) {
        const b = log.ordered.get(h)!;
        for (const t of b.txs) {
          const id = toHex(t.envelope);
          // an envelope a proposer included again is discarded as a replay: not a second execution
          if (seen.has(id) && t.tx.tag === 'discarded' && t.tx.value === 'replay') continue;
          if (seen.has(id)) {
            this.violations.push({
              invariant: 'integrity',
              detail: `${node.id} executed ${id.slice(0, 12)} twice`,
            });
          }
          seen.add(id);
          const c = this.clientTxs.get(id);
          if (c === undefined) continue;
          clientExecuted++;
          if (t.encrypted) {
            encryptedSeen.push(id);
            if (t.tx.tag !== 'ok' || toHex(t.tx.value) !== toHex(c.plaintext)) {
              this.violations.push({
                invariant: 'integrity',
                detail: `${node.id} decrypted ${id.slice(0, 12)} to something else than the client's plaintext`,
              });
            }
          } else if (t.includedAt !== h) {
            this.violations.push({
              invariant: 'integrity',
              detail: `${node.id} ran plain ${id.slice(0, 12)} at ${h}, not ${t.includedAt}`,
            });
          }
        }
        const ref = this.logs.get(reference.id)!;
        const other = ref.ordered.get(h);
        if (other !== undefined && toHex(encodeOrdered(other)) !== toHex(encodeOrdered(b))) {
          this.violations.push({
            invariant: 'agreement',
            detail: `${node.id} and ${reference.id} executed different blocks at ${h}`,
          });
        }
        const r1 = log.roots.get(h);
        const r2 = ref.roots.get(h);
        if (r1 !== undefined && r2 !== undefined && r1 !== r2) {
          this.violations.push({
            invariant: 'agreement',
            detail: `${node.id} and ${reference.id} have different state roots at ${h}`,
          });
        }
      }
      // committed order: the encrypted ones executed are a prefix of the committed encrypted order
      const settled = encryptedOrder.filter((e) => e.height + SETTLE_HEIGHTS <= node.committed);
      for (const [k, e] of settled.entries()) {
        if (encryptedSeen[k] !== e.id) {
          this.violations.push({
            invariant: 'integrity',
            detail: `${node.id}: encrypted tx #${k} (${e.id.slice(0, 12)}, height ${e.height}) ${encryptedSeen.includes(e.id) ? 'out of committed order' : 'never executed'}`,
          });
          break;
        }
      }
      if (node === reference) {
        executed = clientExecuted;
        for (const r of log.receipts.values()) {
          for (const rc of r.receipts) if (rc.accepted) accepted++;
        }
      }
    }
    return {
      ...report,
      violations: this.violations,
      committedOrder,
      submitted: { ...this.submittedCount },
      committed,
      executed,
      accepted,
      refused: { ...this.refused },
      dkgHeight: this.dkgHeight,
    };
  }
}

function encodeOrdered(b: OrderedBlock): Uint8Array {
  return encode(OrderedBlock, b);
}

export function runPipeline(o: PipelineOptions): PipelineReport {
  return new PipelineCluster(o).run();
}
