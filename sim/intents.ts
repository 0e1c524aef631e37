/**
 * Intents in the whole simulated pipeline: every node runs intent gossip beside consensus,
 * mempool, decryptor and executor (assembly/intents.ts, as a live node does), and two nodes run a
 * solver, so competing settlements of the same intents reach the ledger. Traders' swap accounts
 * are funded by a mint, then their intents enter at different nodes, under the run's fault plan.
 * Settlements travel as plain envelopes here (a live solver encrypts them under the epoch key).
 *
 * Checked at the end, against an honest node's executed blocks and final notes:
 * - exactly once: no intent is settled by two accepted transactions;
 * - limits: each trader that sold got at least its limit price for what it sold;
 * - supply: every asset's total is what was minted.
 */
import { swapIntentBody } from '../apps/swap/body.ts';
import { type AssetRef, intentId, type SignedSwapIntent, signIntent } from '../apps/swap/format.ts';
import { SwapPayload, swapOwnerCommitment, swapOwnerPredicate } from '../apps/swap/predicate.ts';
import { swapNote } from '../apps/swap/settlement.ts';
import { declaredTx } from '../apps/token/client.ts';
import { signTx, tokenValueOf } from '../apps/token/index.ts';
import type { ConsensusPorts } from '../assembly/assemble.ts';
import { spentNoteIds, swapTopics, wireIntentApp } from '../assembly/intents.ts';
import { decryptorEngine } from '../engines/decryptor/engine.ts';
import { Declared } from '../engines/executor/natives.ts';
import { type Note, Transaction } from '../engines/executor/notes.ts';
import { type BlockReceipts, executorOutputs } from '../engines/executor/ports.ts';
import { NoteStore } from '../engines/executor/state.ts';
import { gossipEngine } from '../engines/gossip/engine.ts';
import type { EngineGraph } from '../runtime/graph.ts';
import { sha256, toHex } from '../wire/commit.ts';
import { envelopeSigningBytes, SignedEnvelope } from '../wire/envelope.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { encode, tryDecode } from '../wire/schema.ts';
import { createSigner, keyPairFromSeed, type Signer } from '../wire/sign.ts';
import type { SimNode } from './cluster.ts';
import { MEMPOOL_SUBMIT, PipelineCluster, type PipelineOptions, type PipelineReport } from './pipeline.ts';
import { SimKeyring } from './signer.ts';

export const CHANNEL_GOSSIP = 2;

export interface IntentSimOptions extends Omit<PipelineOptions, 'extraFeeAccounts'> {
  /** traders, each with one intent: trader j gives asset j % 3 and wants asset (j + 1) % 3 */
  traders: number;
  /** nodes that run a solver (by id) */
  solvers: readonly string[];
}

export interface IntentSimReport extends PipelineReport {
  intents: { submitted: number; settled: number; settlements: number; failedSettlements: number };
}

const OFFER = 100n;
const WANT = 90n;
const SOLVER_FLOAT = 1_000n;
/** when the swap accounts are funded, and when the first intent enters (virtual ms) */
const FUND_AT = 200;
const INTENTS_FROM = 700;
const INTENT_EVERY = 50;
/** how long after the last intent the run waits for settlements, at most */
const SETTLE_MS = 8_000;

const utf8 = (s: string) => new TextEncoder().encode(s);
const graphPort = <T>(engine: string, port: string, schema: T) => ({
  dir: 'out' as const,
  engine,
  port,
  schema,
});

/** A payer's signer: the simulated keyed hash, or ed25519 when the run uses it. */
function payer(keyring: SimKeyring, ed25519: boolean | undefined, label: string): Signer {
  return ed25519 ? createSigner(sha256(utf8(`fractal-sim-payer:${label}`))) : keyring.signer(label);
}

export class IntentCluster extends PipelineCluster {
  private readonly traders: Uint8Array[];
  private readonly solverSeeds = new Map<string, Uint8Array>();
  private readonly payers = new Map<string, Signer>();
  private readonly assets: AssetRef[];
  private readonly intents: SignedSwapIntent[] = [];
  private submitted = 0;
  private lastIntentAt = Number.POSITIVE_INFINITY;
  private envelopes = 0;
  /** per node: ordered blocks until their receipts */
  private readonly ordered = new Map<string, Map<bigint, OrderedBlock>>();
  /** per node: the accepted transactions it executed, in order */
  private readonly accepted = new Map<string, Transaction[]>();
  /** per node: settlement envelopes its solver submitted */
  private readonly settlementIds = new Set<string>();
  private readonly settlementOutcomes = new Map<string, boolean>();
  /** intents some honest node executed a settlement of */
  private readonly settledSomewhere = new Set<string>();

  constructor(readonly io: IntentSimOptions) {
    const labels = ['swap-funder', ...io.solvers.map((id) => `solver-${id}`)];
    const probe = new SimKeyring();
    super({
      ...io,
      extraFeeAccounts: labels.map((l) => ({
        publicKey: payer(probe, io.ed25519, l).publicKey,
        balance: 1_000_000_000n,
      })),
    });
    for (const l of labels) this.payers.set(l, payer(this.keyring, io.ed25519, l));
    this.traders = Array.from({ length: io.traders }, (_, j) =>
      sha256(utf8(`fractal-sim-trader:${io.seed}:${j}`)),
    );
    for (const id of io.solvers)
      this.solverSeeds.set(id, sha256(utf8(`fractal-sim-solver:${io.seed}:${id}`)));
    const application = this.token.application;
    this.assets = ['a', 'b', 'c'].map((x) => ({
      provenance: [],
      application,
      asset: sha256(utf8(`sim-asset-${x}`)),
    }));
    this.scheduler.at(FUND_AT, () => this.fund());
  }

  private pk(seed: Uint8Array): Uint8Array {
    return keyPairFromSeed(seed).publicKey;
  }

  protected override wireApp(node: SimNode, graph: EngineGraph, consensus: ConsensusPorts): void {
    super.wireApp(node, graph, consensus);
    // the swap-owner code of every trader and solver, at genesis (as a live node registers it)
    const notes = new NoteStore(node.storage);
    for (const seed of [...this.traders, ...this.solverSeeds.values()])
      notes.registerCode(swapOwnerPredicate(this.pk(seed)).fn);
    const solverSeed = node.honest ? this.solverSeeds.get(node.id) : undefined;
    const own = solverSeed === undefined ? undefined : toHex(swapOwnerCommitment(this.pk(solverSeed)));
    const { gossip, solver } = wireIntentApp(graph, {
      overlay: this.chainId,
      topics: swapTopics(
        this.token.application,
        this.assets.map((a) => a.asset),
      ),
      noteAt: (key) => notes.note(key),
      ...(solverSeed === undefined
        ? {}
        : {
            solver: {
              secretKey: solverSeed,
              notes: () => [...notes.notes()].map(([, n]) => n).filter((n) => toHex(n.owner) === own),
              batchEvery: 1,
              batchSize: 64,
            },
          }),
    });
    graph
      .envelopes(gossip.out.net)
      .subscribe((e) => this.sendFrame(node, CHANNEL_GOSSIP, e.msg.to, e.msg.bytes, e.lamport));
    const ordered = new Map<bigint, OrderedBlock>();
    this.ordered.set(node.id, ordered);
    graph
      .observe(graphPort('decryptor', 'ordered', decryptorEngine.outputs.ordered))
      .subscribe((b) => ordered.set(b.height, b));
    graph.observe(graphPort('executor', 'receipts', executorOutputs.receipts)).subscribe((r) => {
      const block = ordered.get(r.height);
      ordered.delete(r.height);
      this.noteExecuted(node, block, r);
      const chain = { height: r.height, spent: spentNoteIds(block, r) };
      graph.send(gossip.in.spent, chain, 'ledger');
      if (solver !== undefined) graph.send(solver.in.chain, chain, 'ledger');
    });
    if (solver !== undefined) {
      const payerSigner = this.payers.get(`solver-${node.id}`)!;
      graph.observe(solver.out.solution).subscribe((sol) => {
        const bytes = this.envelope(payerSigner, sol.tx);
        this.settlementIds.add(toHex(sha256(bytes)));
        graph.send(MEMPOOL_SUBMIT, { id: `solver:${node.id}:${sol.batch}`, bytes }, 'solver');
      });
    }
    // every other node is a peer (the simulated network reaches all; a down one drops the frames)
    for (const other of this.nodes)
      if (other.id !== node.id) graph.send(gossip.in.peers, { peer: other.id, up: true }, 'net');
  }

  protected override deliver(
    node: SimNode,
    graph: EngineGraph,
    channel: number,
    from: string,
    bytes: Uint8Array,
    lamport: number,
  ): void {
    if (channel !== CHANNEL_GOSSIP) {
      super.deliver(node, graph, channel, from, bytes, lamport);
      return;
    }
    if (!graph.engineNames().includes('gossip')) return;
    graph.send(
      { dir: 'in', engine: 'gossip', port: 'net', schema: gossipEngine.inputs.net },
      { peer: from, bytes },
      `net:${from}`,
      lamport,
    );
  }

  /** A plain envelope of `tx` (its encoding) paid by `signer`, with a fresh nonce. */
  private envelope(signer: Signer, tx: Uint8Array): Uint8Array {
    const envelope = {
      instance: this.chainId,
      payer: signer.publicKey,
      fee: 10n,
      nonce: BigInt(++this.envelopes),
      expiry: 100_000n,
      body: { tag: 'plain' as const, value: tx },
    };
    return encode(SignedEnvelope, { envelope, signature: signer.sign(envelopeSigningBytes(envelope)) });
  }

  /** Some honest node that is up (round robin on `i`). */
  private target(i: number): SimNode | undefined {
    const up = this.nodes.filter((n) => n.honest && n.up && n.graph !== undefined);
    return up[i % Math.max(1, up.length)];
  }

  /** One mint: each trader's note of the asset it gives, and each solver's float of every asset. */
  private fund(): void {
    const outputs: Note[] = [];
    for (const [j, seed] of this.traders.entries())
      outputs.push(swapNote(this.pk(seed), this.assets[j % 3]!, OFFER, sha256(utf8(`trader-note:${j}`))));
    for (const [id, seed] of this.solverSeeds)
      for (const [k, a] of this.assets.entries())
        outputs.push(swapNote(this.pk(seed), a, SOLVER_FLOAT, sha256(utf8(`solver-note:${id}:${k}`))));
    const tx = signTx(declaredTx([], outputs), [this.authority]);
    const bytes = this.envelope(this.payers.get('swap-funder')!, encode(Transaction, tx));
    // to every up node, so a crash of one does not lose it (the copies are one envelope)
    for (const n of this.nodes.filter((x) => x.honest && x.up && x.graph !== undefined))
      n.graph!.send(MEMPOOL_SUBMIT, { id: 'fund', bytes }, 'client');
    for (const [j, seed] of this.traders.entries()) {
      const give = this.assets[j % 3]!;
      const want = this.assets[(j + 1) % 3]!;
      this.intents.push(
        signIntent(
          {
            owner: this.pk(seed),
            give: { of: give, amount: OFFER },
            want: { of: want, amount: WANT },
            partial: j % 2 === 0,
            expires: 10_000n,
            inputs: [sha256(utf8(`trader-note:${j}`))],
            nonce: sha256(utf8(`trader-nonce:${j}`)),
            // simulated gossip signs hops with keyed hashes, not ed25519: no route is paid here
            routeFee: 0n,
            entry: new Uint8Array(0),
          },
          seed,
        ),
      );
      this.scheduler.at(INTENTS_FROM + j * INTENT_EVERY, () => this.publish(j));
    }
  }

  private publish(j: number): void {
    const node = this.target(j);
    this.lastIntentAt = this.scheduler.now();
    this.submitted++;
    node?.graph?.send(
      { dir: 'in', engine: 'gossip', port: 'submit', schema: gossipEngine.inputs.submit },
      { id: `trader:${j}`, body: swapIntentBody(this.intents[j]!), to: [] },
      'client',
    );
  }

  private noteExecuted(node: SimNode, block: OrderedBlock | undefined, r: BlockReceipts): void {
    if (!node.honest || block === undefined) return;
    const list = this.accepted.get(node.id) ?? [];
    this.accepted.set(node.id, list);
    for (const [i, rc] of r.receipts.entries()) {
      const entry = block.txs[i];
      if (entry === undefined) continue;
      const id = toHex(entry.envelope);
      if (this.settlementIds.has(id) && !this.settlementOutcomes.has(id))
        this.settlementOutcomes.set(id, rc.accepted);
      if (!rc.accepted || entry.tx.tag === 'discarded') continue;
      const tx = tryDecode(Transaction, entry.tx.value);
      if (!tx.ok) continue;
      list.push(tx.value);
      for (const intent of settledIntents(tx.value)) this.settledSomewhere.add(toHex(intentId(intent.terms)));
    }
  }

  /** Every intent published and settled, or the settling time is over. */
  protected override workDone(): boolean {
    if (!super.workDone() || this.submitted < this.traders.length) return false;
    return (
      this.settledSomewhere.size === this.traders.length ||
      this.scheduler.now() >= this.lastIntentAt + SETTLE_MS
    );
  }

  override run(): IntentSimReport {
    const report = super.run();
    const honest = this.nodes.filter((n) => n.honest);
    const reference = honest.reduce((a, b) => (b.committed > a.committed ? b : a), honest[0]!);
    const txs = this.accepted.get(reference.id) ?? [];
    // exactly once: an intent in two accepted settlements
    const settledBy = new Map<string, number>();
    for (const tx of txs) {
      for (const intent of settledIntents(tx)) {
        const id = toHex(intentId(intent.terms));
        settledBy.set(id, (settledBy.get(id) ?? 0) + 1);
      }
    }
    for (const [id, n] of settledBy)
      if (n > 1)
        this.violations.push({
          invariant: 'integrity',
          detail: `intent ${id.slice(0, 12)} settled ${n} times`,
        });
    // limits and supply, from the reference node's final notes
    const notes = [...new NoteStore(reference.storage).notes()].map(([, n]) => n);
    const held = (owner: Uint8Array, a: AssetRef) => {
      const own = toHex(swapOwnerCommitment(owner));
      return notes.filter((n) => toHex(n.owner) === own).reduce((s, n) => s + amountOf(n, a), 0n);
    };
    const funded =
      this.settlementOutcomes.size > 0 ||
      settledBy.size > 0 ||
      notes.some((n) => this.assets.some((a) => amountOf(n, a) > 0n));
    if (funded) {
      for (const [j, seed] of this.traders.entries()) {
        const sold = OFFER - held(this.pk(seed), this.assets[j % 3]!);
        const bought = held(this.pk(seed), this.assets[(j + 1) % 3]!);
        if (sold < 0n || (sold === 0n && bought !== 0n) || bought * OFFER < sold * WANT)
          this.violations.push({
            invariant: 'integrity',
            detail: `trader ${j} sold ${sold} for ${bought}: below its limit`,
          });
      }
      for (const a of this.assets) {
        const total = notes.reduce((s, n) => s + amountOf(n, a), 0n);
        const minted =
          OFFER * BigInt(this.traders.filter((_, j) => this.assets[j % 3] === a).length) +
          SOLVER_FLOAT * BigInt(this.solverSeeds.size);
        if (total !== minted)
          this.violations.push({
            invariant: 'integrity',
            detail: `asset ${toHex(a.asset).slice(0, 8)}: ${total} in notes, ${minted} minted`,
          });
      }
    }
    const outcomes = [...this.settlementOutcomes.values()];
    return {
      ...report,
      violations: this.violations,
      intents: {
        submitted: this.submitted,
        settled: settledBy.size,
        settlements: outcomes.filter((x) => x).length,
        failedSettlements: outcomes.filter((x) => !x).length,
      },
    };
  }
}

/** The swap intents an executed transaction settled (none unless its payload is a SwapPayload). */
function settledIntents(tx: Transaction): readonly SignedSwapIntent[] {
  const d = tryDecode(Declared, tx.extradata);
  if (!d.ok) return [];
  const payload = tryDecode(SwapPayload, d.value.payload);
  return payload.ok ? payload.value.intents : [];
}

function amountOf(n: Note, a: AssetRef): bigint {
  if (toHex(n.application) !== toHex(a.application) || n.provenance.length !== 0) return 0n;
  const v = tokenValueOf(n.value);
  return v !== undefined && toHex(v.asset) === toHex(a.asset) ? v.amount : 0n;
}

export function runIntentSim(o: IntentSimOptions): IntentSimReport {
  return new IntentCluster(o).run();
}
