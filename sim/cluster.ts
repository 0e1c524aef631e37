/**
 * A simulated cluster: N consensus nodes, each its own engine graph with its own in-memory
 * storage, in one process on the virtual clock, connected by the simulated network and subjected
 * to a fault plan. Invariants are checked continuously as blocks commit (the VOPR way); a run is
 * a pure function of (options, seed), summarised by its trace hash.
 */

import type { ConsensusPorts } from '../assembly/assemble.ts';
import {
  blockHash,
  bytesEqual,
  proposalSignBytes,
  txsHash,
  voteSignBytes,
} from '../engines/consensus/chain.ts';
import { consensusEngine } from '../engines/consensus/engine.ts';
import { consensusStateOf } from '../engines/consensus/machine.ts';
import {
  CONSENSUS_LIMITS,
  type CommittedBlock,
  NetEnvelope,
  VOTE_PRECOMMIT,
  type Vote,
} from '../engines/consensus/messages.ts';
import type { GenesisValidator } from '../engines/consensus/node.ts';
import type { TimeoutConfig } from '../engines/consensus/round.ts';
import {
  applyChanges,
  makeValidatorSet,
  sameSet,
  type ValidatorSet,
} from '../engines/consensus/validators.ts';
import { digestEngine, validatorUpdatesOf, valsetTx } from '../engines/digest/engine.ts';
import { EngineGraph } from '../runtime/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { Random } from '../runtime/random.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { toHex } from '../wire/commit.ts';
import { encode, tryDecode } from '../wire/schema.ts';
import {
  createSigner,
  verify as ed25519Verify,
  keyPairFromSeed,
  type Signer,
  type Verifier,
} from '../wire/sign.ts';
import { Adversary, type Liar, LYING_BEHAVIOURS, type LyingBehaviour } from './adversary.ts';
import { ConductOracle } from './conduct.ts';
import {
  describePlan,
  type FaultPlan,
  type PersistedWrite,
  type StorageFault,
  stabilisationTime,
  type WriteCrash,
} from './faults.ts';
import { KillableStorage, type WriteFate } from './killable-storage.ts';
import { SimNetwork, type SimTransport } from './network.ts';
import { certifies, exceedsTwoThirds } from './quorum.ts';
import { type SimSessionOptions, SimSessions } from './sessions.ts';
import { SimKeyring } from './signer.ts';
import { guardedSigner } from './signing-guard.ts';

/** Frames on the simulated network start with the channel (engine) they are for. */
export const CHANNEL_CONSENSUS = 0;

/**
 * What the Byzantine validators do: equivocate (conflicting votes and proposals to alternate
 * peers), run as twins (two nodes on one key), stay silent, or one of the lies of adversary.ts.
 */
export type ByzantineBehaviour = 'equivocate' | 'twins' | 'silent' | LyingBehaviour;

export const BYZANTINE_BEHAVIOURS: readonly ByzantineBehaviour[] = [
  'equivocate',
  'twins',
  'silent',
  ...LYING_BEHAVIOURS,
];

const isLying = (b: ByzantineBehaviour): b is LyingBehaviour =>
  (LYING_BEHAVIOURS as readonly string[]).includes(b);

export interface ClusterOptions {
  seed: number;
  /** Validators (n = 3f + 1 for f faults). */
  validators: number;
  /** How many validators are Byzantine (the highest-numbered ones). */
  byzantine: number;
  /** Each genesis validator's voting power, n0 first (1 each when absent). */
  powers?: readonly number[];
  behaviour: ByzantineBehaviour;
  /** Stop once every live honest node has committed this many heights. */
  heights: number;
  plan: FaultPlan;
  /** Real ed25519 instead of the keyed-hash stand-in. */
  ed25519?: boolean;
  timeouts?: TimeoutConfig;
  /** Virtual time allowed per height after stabilisation, for the liveness check. */
  livenessPerHeightMs?: number;
  /** Transactions each node's mempool offers per height (to make blocks non-trivial). */
  txsPerBlock?: number;
  trace?: boolean;
  onProgress?: (p: { time: number; minHeight: number; maxHeight: number }) => void;
  /** Honest nodes that start as full nodes (not in the genesis set): n<validators>, n<validators+1>, … */
  fullNodes?: number;
  /** Validator power changes, submitted as transactions once height-1 is committed (power 0 removes). */
  validatorChanges?: readonly { height: number; node: string; power: number }[];
  /** Called once every node has started (tests hook crash points here). */
  onStart?: (cluster: Cluster) => void;
  /**
   * Honest validators sign through a double-sign guard kept beside the key, outside the node's
   * storage (sim/signing-guard.ts; a live node's fsynced signing-state file), so it survives
   * storage that lost acknowledged writes. Off by default: the WAL alone is the guard.
   */
  signingGuard?: boolean;
  /** Deep-freeze engine contexts after every step, so a write in place crashes (default true). */
  freezeContexts?: boolean;
  /** End the run at the first broken agreement (a negative control needs nothing more). */
  stopOnFork?: boolean;
  /**
   * Carry the nodes' messages on peer sessions (sim/sessions.ts: the live transport's session
   * machine over simulated connections) instead of datagrams; `true` takes the default timings.
   * Off by default: it changes every trace.
   */
  sessions?: boolean | SimSessionOptions;
  /**
   * Twins-style round partitions: until `until` (virtual ms), votes and proposals of (height,
   * round) are delivered only within the groups `groups` names for it (by node id, twins
   * included; undefined = that round is whole). Messages sent later (gossip re-sends them) get
   * through, as Tendermint's eventual delivery after stabilisation requires.
   */
  roundPartitions?: {
    until: number;
    groups: (
      height: bigint,
      round: number,
      kind: 'proposal' | 'prevote' | 'precommit',
    ) => readonly (readonly string[])[] | undefined;
  };
}

export interface Violation {
  invariant:
    | 'agreement'
    | 'validity'
    | 'integrity'
    | 'double-sign'
    | 'justification'
    | 'liveness'
    | 'accountability';
  detail: string;
}

export interface ClusterReport {
  seed: number;
  plan: string;
  traceHash: string;
  virtualTime: number;
  heights: Record<string, number>;
  violations: Violation[];
  agreementBroken: boolean;
  /** Validators shown to have equivocated, and the share of power they hold. */
  culprits: string[];
  culpritPower: number;
  totalPower: number;
  messages: { sent: number; delivered: number; dropped: number; partitioned: number };
  penalties: number;
  penaltyReasons: Record<string, number>;
  /** Lies the Byzantine validators told, by kind (adversary.ts; empty for the other behaviours). */
  lies: Record<string, number>;
  events: number;
  /** Nodes whose engines failed for good, with the reason (a damaged store), taken down since. */
  failed: Record<string, string>;
  /** What the plan's storage faults did, in order. */
  storageFaults: StorageFaultRecord[];
}

/** One storage fault that happened: a torn batch, a power loss, a flipped bit. */
export interface StorageFaultRecord {
  node: string;
  kind: StorageFault['kind'];
  /** virtual time */
  at: number;
  /** torn-write: ops landed of the batch; lost-writes: unsynced writes lost, of how many */
  landed?: number;
  of?: number;
  lost?: number;
  /** corrupt: the damaged record's key (hex), undefined when there was none to damage */
  key?: string;
}

export interface SimNode {
  id: string;
  /** Hex of the node's public key: its identity in whatever validator set is in force. */
  key: string;
  honest: boolean;
  signer: Signer;
  storage: KillableStorage;
  graph: EngineGraph | undefined;
  /** Signatures it has written to its WAL so far (signing-point kills count them). */
  signatures: number;
  /** How far its clock has jumped over its restarts (ms). */
  clockJump: number;
  committed: bigint;
  lastHash: string;
  /** A restarted node may re-announce its last block once (to its app), and only then. */
  replayAllowed: boolean;
  up: boolean;
}

const CONSENSUS_WRITES: readonly [Uint8Array, PersistedWrite][] = [
  [new TextEncoder().encode('c/wal/'), 'signature'],
  [new TextEncoder().encode('c/block/'), 'block'],
  [new TextEncoder().encode('c/root/'), 'root'],
];
/** The kind byte that ends a WAL key (engines/consensus/store.ts: c/wal/<height:8><round:4><kind:1>). */
const SIGNED_KINDS: readonly PersistedWrite[] = ['proposal', 'prevote', 'precommit'];

/** Which of consensus's durable writes (engines/consensus/store.ts) a storage key is, if any. */
function persistedWritesOf(key: Uint8Array): PersistedWrite[] {
  next: for (const [prefix, write] of CONSENSUS_WRITES) {
    if (key.length < prefix.length) continue;
    for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) continue next;
    if (write !== 'signature') return [write];
    const kind = SIGNED_KINDS[key[key.length - 1]!];
    return kind === undefined ? [write] : [write, kind];
  }
  return [];
}

export class Cluster {
  readonly scheduler: SimScheduler;
  readonly inspector: Inspector;
  readonly network: SimTransport;
  readonly nodes: SimNode[] = [];
  readonly violations: Violation[] = [];
  protected readonly random: Random;
  protected readonly verify: Verifier;
  protected readonly keyring = new SimKeyring();
  private readonly genesis: GenesisValidator[];
  private readonly set: ValidatorSet;
  /** Validator sets by the height they take effect (mirrors the app's rule: decided at h, in force at h+2). */
  private readonly sets = new Map<bigint, ValidatorSet>();
  protected readonly chainId = 'fractal-sim';
  private readonly decided = new Map<bigint, string>();
  private readonly signedBy = new Map<string, string>();
  private readonly seenVotes = new Map<string, Vote>();
  private readonly seenProposals = new Map<string, string>();
  private readonly culprits = new Set<string>();
  private penalties = 0;
  readonly penaltyReasons: Record<string, number> = {};
  /** Every vote and proposal an honest validator signs is checked against what was sent before. */
  private readonly conduct: ConductOracle;
  private readonly adversary: Adversary | undefined;
  /** When the last restart after a kill at a write happens (they are not known in advance). */
  private lastWriteRestart = 0;
  /** What the plan's storage faults did, in order. */
  readonly storageLog: StorageFaultRecord[] = [];
  /** Nodes whose engine failed for good (the runtime's reason), taken down by the cluster. */
  readonly failed = new Map<string, string>();
  /** Nodes whose write-back storage is synced before each message leaves. */
  private readonly syncOnSend = new Set<string>();
  /**
   * Consensus frames decoded by the oracles, by the frame's bytes object: a frame is checked as
   * it leaves, recorded, and observed by every honest receiver, and it is the same bytes each time.
   */
  private readonly decodedFrames = new WeakMap<Uint8Array, NetEnvelope | null>();
  /** Broadcast frames some honest node has received already (observing the same bytes again adds nothing). */
  private readonly observedFrames = new WeakSet<Uint8Array>();
  /** The consensus bytes each frame sent carries, so a receiver's oracle finds their decoding. */
  private readonly framedBytes = new WeakMap<Uint8Array, Uint8Array>();

  constructor(readonly o: ClusterOptions) {
    if (o.byzantine > o.validators) throw new Error('more Byzantine nodes than validators');
    if (o.powers !== undefined && o.powers.length !== o.validators)
      throw new Error(`${o.powers.length} powers for ${o.validators} validators`);
    this.scheduler = new SimScheduler(o.seed);
    this.inspector = new Inspector({ trace: o.trace ?? true });
    this.random = new Random(`cluster:${o.seed}`);
    this.network =
      o.sessions === undefined || o.sessions === false
        ? new SimNetwork(this.scheduler, this.random.fork('network'), o.plan)
        : new SimSessions(this.scheduler, this.random.fork('sessions'), o.plan, {
            nodes: () => this.nodes.map((n) => n.id),
            signerOf: (id) => this.nodes.find((n) => n.id === id)!.signer,
            verify: (publicKey, msg, sig) => this.verify(publicKey, msg, sig),
            inspector: this.inspector,
            ...(o.sessions === true ? {} : { options: o.sessions }),
          });
    const keyring = this.keyring;
    this.verify = o.ed25519 ? ed25519Verify : keyring.verify;
    this.conduct = new ConductOracle({
      chainId: this.chainId,
      verify: this.verify,
      setAt: (h) => this.setAt(h),
      // the frame as the other oracles decoded it (one decoding per frame, the same codec)
      decode: (bytes) => this.envelopeOf(bytes),
    });
    this.adversary = isLying(o.behaviour) ? new Adversary(this.adversaryHost(), o.behaviour) : undefined;
    const signers: Signer[] = [];
    for (let i = 0; i < o.validators + (o.fullNodes ?? 0); i++) {
      if (o.ed25519) {
        const seed = new Uint8Array(32);
        new DataView(seed.buffer).setUint32(0, i + 1);
        signers.push(createSigner(keyPairFromSeed(seed).secretKey));
      } else signers.push(keyring.signer(`validator-${i}`));
    }
    this.genesis = signers
      .slice(0, o.validators)
      .map((s, i) => ({ publicKey: s.publicKey, power: o.powers?.[i] ?? 1 }));
    this.set = makeValidatorSet(
      this.genesis.map((g) => ({ id: toHex(g.publicKey), publicKey: g.publicKey, power: g.power })),
    );
    this.sets.set(1n, this.set);
    for (let i = 0; i < o.validators; i++) {
      const signer = signers[i]!;
      const honest = i < o.validators - o.byzantine;
      this.nodes.push(this.makeNode(`n${i}`, honest, signer));
      if (!honest && o.behaviour === 'twins') this.nodes.push(this.makeNode(`n${i}-twin`, false, signer));
    }
    // full nodes: honest, not in the genesis set (a validator change may add them)
    for (let i = o.validators; i < signers.length; i++)
      this.nodes.push(this.makeNode(`n${i}`, true, signers[i]!));
    // a node one of whose engines failed for good (its storage is damaged) is down from then on: it
    // refused to go on rather than serve what it cannot read
    if ((o.plan.storageFaults ?? []).length > 0) {
      this.inspector.faults$.subscribe((e) => {
        if (e.kind !== 'failed') return;
        const node = this.nodes.find((n) => n.id === e.node);
        // (an engine of a node being killed may fail in its dying step: that node is down already)
        if (node === undefined || !node.up) return;
        this.failed.set(node.id, `${e.engine}: ${e.reason}`);
        this.scheduler.at(this.scheduler.now(), () => this.crash(node));
      });
    }
  }

  private makeNode(id: string, honest: boolean, key: Signer): SimNode {
    const signer = honest && this.o.signingGuard === true ? guardedSigner(key) : key;
    const node: SimNode = {
      id,
      key: toHex(signer.publicKey),
      honest,
      signer,
      storage: new KillableStorage(),
      graph: undefined,
      committed: 0n,
      lastHash: '',
      replayAllowed: false,
      up: false,
      signatures: 0,
      clockJump: 0,
    };
    this.armWriteCrashes(node);
    return node;
  }

  /**
   * Kills the node at the writes the plan names: its storage counts signatures reaching the WAL,
   * committed blocks and app roots, and dies before or after the chosen write lands, or the node
   * is killed right after the step that made it; each kill restarts the node later with a
   * jumped clock. The plan's storage faults at the node are armed with them.
   */
  private armWriteCrashes(node: SimNode): void {
    const kills = (this.o.plan.writeCrashes ?? []).filter((c) => c.node === node.id);
    const faults = (this.o.plan.storageFaults ?? []).filter((f) => f.node === node.id);
    if (kills.length === 0 && faults.length === 0) return;
    const counts: Record<PersistedWrite, number> = {
      signature: 0,
      proposal: 0,
      prevote: 0,
      precommit: 0,
      block: 0,
      root: 0,
    };
    const storage = node.storage;
    const lossy = faults.find((f) => f.kind === 'lost-writes');
    if (lossy !== undefined) storage.durability = 'write-back';
    if (lossy !== undefined && (lossy.sync ?? 'send') === 'send') this.syncOnSend.add(node.id);
    const syncEvery = typeof lossy?.sync === 'number' ? Math.max(1, lossy.sync) : undefined;
    if (faults.some((f) => f.kind === 'corrupt' && f.checksums !== false)) storage.checksums = true;
    /** each storage fault's count of the writes that trigger it */
    const seen = faults.map(() => 0);
    let written = 0;
    let pending: { crash: WriteCrash } | { fault: StorageFault } | undefined;
    /** `writes` with repeats: a step's batch may hold several (a block and the next proposal). */
    const crashFate = (writes: readonly PersistedWrite[]): WriteFate => {
      if (writes.length === 0) return 'lands';
      const before = { ...counts };
      for (const w of writes) counts[w]++;
      node.signatures += counts.signature - before.signature;
      const kill = kills.find((c) => before[c.write] < c.nth && c.nth <= counts[c.write]);
      if (kill === undefined) return 'lands';
      pending = { crash: kill };
      if (kill.point === 'before-write') return 'die-before';
      if (kill.point === 'after-write') return 'die-after';
      // after the send: the step finishes (its messages leave), then the process is killed
      this.scheduler.at(this.scheduler.now(), () => {
        if (node.up) node.storage.die();
      });
      return 'lands';
    };
    const faultFate = (writes: readonly PersistedWrite[], ops: readonly unknown[] | undefined): WriteFate => {
      // write-back every n writes: this write starts after the sync
      if (syncEvery !== undefined && ++written % syncEvery === 0) storage.sync();
      for (const [i, f] of faults.entries()) {
        if (f.write !== undefined && !writes.includes(f.write)) continue;
        if (f.kind === 'torn-write' && (ops === undefined || ops.length < 2)) continue;
        if (++seen[i]! !== f.at) continue;
        pending = { fault: f };
        if (f.kind !== 'torn-write') return 'die-after';
        const tear = new Random(`tear:${f.seed}`).int(ops!.length);
        this.storageLog.push({
          node: node.id,
          kind: f.kind,
          at: this.scheduler.now(),
          landed: tear,
          of: ops!.length,
        });
        return { tear };
      }
      return 'lands';
    };
    storage.fateOf = (key, op, ops) => {
      const writes: PersistedWrite[] = [];
      if (ops === undefined) {
        if (op === 'put') writes.push(...persistedWritesOf(key));
      } else for (const o of ops) if (o.op === 'put') writes.push(...persistedWritesOf(o.key));
      const fate = crashFate(writes);
      if (fate !== 'lands' || faults.length === 0) return fate;
      return faultFate(writes, ops);
    };
    storage.onDeath = () => {
      const why = pending;
      if (why === undefined) return;
      pending = undefined;
      let down: number;
      if ('crash' in why) {
        this.kill(node);
        node.clockJump += why.crash.clockJump;
        down = why.crash.down;
      } else {
        const f = why.fault;
        const random = new Random(`storage-fault:${f.seed}`);
        if (f.kind === 'lost-writes') {
          const of = storage.unsynced;
          const lost = storage.loseUnsynced(random, f.order ?? 'suffix');
          this.storageLog.push({ node: node.id, kind: f.kind, at: this.scheduler.now(), lost, of });
        }
        this.kill(node);
        if (f.kind === 'corrupt') {
          // at rest, while the node is down: once the dying step is over
          this.scheduler.at(this.scheduler.now(), () => {
            const prefix = new TextEncoder().encode(f.prefix ?? 'c/');
            const key = storage.corruptRandom(random, prefix);
            this.storageLog.push({
              node: node.id,
              kind: f.kind,
              at: this.scheduler.now(),
              ...(key === undefined ? {} : { key: toHex(key) }),
            });
          });
        }
        down = f.down;
      }
      const at = this.scheduler.now() + down;
      this.lastWriteRestart = Math.max(this.lastWriteRestart, at);
      this.scheduleRestart(node, at);
    };
  }

  /**
   * Kills a node from inside one of its steps: from now on nothing it writes lands and nothing
   * it sends leaves; its engines are stopped once the step is over.
   */
  private kill(node: SimNode): void {
    if (!node.up) return;
    node.up = false;
    this.network.detach(node.id);
    const graph = node.graph;
    node.graph = undefined;
    this.scheduler.at(this.scheduler.now(), () => graph?.stop());
  }

  /** What the lying Byzantine validators may see and do (adversary.ts). */
  private adversaryHost() {
    return {
      chainId: this.chainId,
      random: this.random.fork('adversary'),
      now: () => this.scheduler.now(),
      peers: (self: string) => this.network.nodes().filter((p) => p !== self),
      honestValidators: () =>
        this.nodes.filter((n) => n.honest && this.set.index.has(n.key)).map((n) => n.id),
      setAt: (h: bigint) => this.setAt(h),
      stateOf: (liar: Liar) => {
        const node = this.nodes.find((n) => n.id === liar.id);
        return consensusStateOf(node?.graph?.instance('consensus').snapshot()?.context);
      },
      send: (liar: Liar, to: string, bytes: Uint8Array, lamport: number) => {
        const node = this.nodes.find((n) => n.id === liar.id);
        if (node !== undefined) this.sendFrame(node, CHANNEL_CONSENSUS, to, bytes, lamport);
      },
    };
  }

  /** A consensus frame's envelope, decoded once however many oracles look at it (never mutated). */
  protected envelopeOf(bytes: Uint8Array): NetEnvelope | undefined {
    const known = this.decodedFrames.get(bytes);
    if (known !== undefined) return known ?? undefined;
    const env = tryDecode(NetEnvelope, bytes, CONSENSUS_LIMITS);
    this.decodedFrames.set(bytes, env.ok ? env.value : null);
    return env.ok ? env.value : undefined;
  }

  /** The validator set in force at `height`. */
  setAt(height: bigint): ValidatorSet {
    let best = 1n;
    for (const h of this.sets.keys()) if (h <= height && h > best) best = h;
    return this.sets.get(best)!;
  }

  private keyOf(height: bigint, index: number): string | undefined {
    return this.setAt(height).validators[index]?.id;
  }

  get totalPower(): number {
    return this.genesis.reduce((a, g) => a + g.power, 0);
  }

  private pendingRestarts = 0;

  /** Restarts a crashed node at `at`; the run does not end while a restart is pending. */
  scheduleRestart(node: SimNode, at: number): void {
    this.pendingRestarts++;
    this.scheduler.at(at, () => {
      this.pendingRestarts--;
      this.start(node);
    });
  }

  /** Starts (or restarts, keeping only its storage) a node; a node that is up is left alone. */
  start(node: SimNode): void {
    if (node.up) return;
    node.storage.revive();
    node.replayAllowed = node.committed > 0n;
    const skew = this.clockOf(node);
    const graph = new EngineGraph({
      node: node.id,
      scheduler: this.scheduler,
      inspector: this.inspector,
      seed: this.o.seed,
      storage: node.storage,
      signer: node.signer,
      verify: this.verify,
      ...(skew === undefined ? {} : { skew }),
      freezeContexts: this.o.freezeContexts ?? true,
    });
    const consensus = graph.add('consensus', consensusEngine, {
      chainId: this.chainId,
      validators: this.genesis,
      genesisAppRoot: this.genesisAppRoot(),
      awaitAppRoot: true,
      ...(this.o.timeouts ? { timeouts: this.o.timeouts } : {}),
    });
    this.wireApp(node, graph, consensus);
    // the node's assembly writes (an app's genesis state): a storage fault may kill the process
    // there, before it is up; it then stays down until the restart the fault scheduled
    if (node.storage.dead) {
      graph.stop();
      return;
    }
    graph
      .envelopes(consensus.out.net)
      .subscribe((e) => this.outbound(node, e.msg.to, e.msg.bytes, e.lamport));
    graph.observe(consensus.out.committed).subscribe((c) => this.onCommitted(node, c));
    graph.observe(consensus.out.penalty).subscribe((p) => {
      this.penalise(p.reason);
      // on peer sessions, proven misbehaviour costs the peer transport score, as on a live node
      this.network.penalise?.(node.id, p.peer, p.reason);
    });
    node.graph = graph;
    node.up = true;
    this.network.attach(node.id, (from, frame, lamport) => {
      const channel = frame[0];
      if (channel === CHANNEL_CONSENSUS) {
        // the bytes the sender framed (never written to), not a new view of them per receiver
        const bytes = this.framedBytes.get(frame) ?? frame.subarray(1);
        if (node.honest && !this.observedFrames.has(frame)) {
          this.observedFrames.add(frame);
          this.observeReceived(bytes);
        }
        graph.send(consensus.in.net, { peer: from, bytes }, this.netLabel(from), lamport);
      } else if (channel !== undefined) this.deliver(node, graph, channel, from, frame.subarray(1), lamport);
    });
    graph.start();
    this.afterCommit(node);
  }

  private readonly netLabels = new Map<string, string>();

  /** The sender label of frames from `peer` (one string per peer, not one per frame). */
  private netLabel(peer: string): string {
    let label = this.netLabels.get(peer);
    if (label === undefined) {
      label = `net:${peer}`;
      this.netLabels.set(peer, label);
    }
    return label;
  }

  /** The node's clock: the plan's skew plus the jumps of its restarts (never before zero). */
  private clockOf(node: SimNode): { offset: number; rate: number } | undefined {
    const base = this.o.plan.skews[node.id];
    if (node.clockJump === 0) return base;
    return { offset: Math.max(0, (base?.offset ?? 0) + node.clockJump), rate: base?.rate ?? 1 };
  }

  /** The application state root before height 1 (the digest app starts from nothing). */
  protected genesisAppRoot(): Uint8Array {
    return new Uint8Array(32);
  }

  /** Adds the node's application engines (here the digest app) and connects them to consensus. */
  protected wireApp(_node: SimNode, graph: EngineGraph, consensus: ConsensusPorts): void {
    const digest = graph.add('digest', digestEngine);
    graph.connect(consensus.out.committed, digest.in.committed);
    graph.connect(digest.out.appRoot, consensus.in.appRoot);
  }

  /** A frame for an engine other than consensus arrived (the base cluster has none). */
  protected deliver(
    _node: SimNode,
    _graph: EngineGraph,
    _channel: number,
    _from: string,
    _bytes: Uint8Array,
    _lamport: number,
  ): void {}

  /** After start and after every commit (here: stand in for the mempool). */
  protected afterCommit(node: SimNode): void {
    this.offerTxs(node);
  }

  protected penalise(reason: string): void {
    this.penalties++;
    this.penaltyReasons[reason] = (this.penaltyReasons[reason] ?? 0) + 1;
  }

  /** Sends `bytes` on a channel of the simulated network ('' = every peer), stamped with the sender's Lamport time. */
  protected sendFrame(node: SimNode, channel: number, to: string, bytes: Uint8Array, lamport = 0): void {
    if (!node.up) return;
    // write-ahead: what the node wrote is durable before anything it sends can be seen
    if (this.syncOnSend.has(node.id)) node.storage.sync();
    let reach: readonly string[] | undefined;
    if (channel === CHANNEL_CONSENSUS) {
      this.conduct.record(bytes);
      reach = this.roundGroupOf(node.id, bytes);
    }
    const frame = new Uint8Array(bytes.length + 1);
    frame[0] = channel;
    frame.set(bytes, 1);
    if (channel === CHANNEL_CONSENSUS) this.framedBytes.set(frame, bytes);
    if (reach !== undefined) {
      // a Twins round partition: the message reaches only its sender's group for its round
      const peers = to === '' ? this.network.nodes().filter((p) => p !== node.id) : [to];
      for (const p of peers) if (reach.includes(p)) this.network.send(node.id, p, frame, lamport);
    } else if (to === '') this.network.broadcast(node.id, frame, lamport);
    else this.network.send(node.id, to, frame, lamport);
  }

  /** The group `from` is in for the round of a vote or proposal, under `roundPartitions`. */
  private roundGroupOf(from: string, bytes: Uint8Array): readonly string[] | undefined {
    const partitions = this.o.roundPartitions;
    if (partitions === undefined || this.scheduler.now() >= partitions.until) return undefined;
    const env = this.envelopeOf(bytes);
    if (env === undefined) return undefined;
    const m = env.message;
    if (m.tag !== 'vote' && m.tag !== 'proposal') return undefined;
    const kind =
      m.tag === 'proposal' ? 'proposal' : m.value.type === VOTE_PRECOMMIT ? 'precommit' : 'prevote';
    const groups = partitions.groups(m.value.height, m.value.round, kind);
    if (groups === undefined) return undefined;
    return groups.find((g) => g.includes(from)) ?? [];
  }

  /** Stands in for the mempool: offers a fresh batch of transactions after every commit. */
  private offerTxs(node: SimNode): void {
    const n = this.o.txsPerBlock ?? 0;
    if (node.graph === undefined) return;
    const txs: Uint8Array[] = Array.from({ length: n }, (_, i) =>
      new TextEncoder().encode(`${node.id}:${node.committed}:${i}`),
    );
    for (const change of this.o.validatorChanges ?? []) {
      const target = this.nodes.find((x) => x.id === change.node);
      if (target !== undefined && node.committed + 1n >= BigInt(change.height)) {
        txs.push(valsetTx(target.signer.publicKey, change.power));
      }
    }
    if (txs.length === 0) return;
    node.graph.send({ dir: 'in', engine: 'consensus', port: 'txs', schema: consensusEngine.inputs.txs }, txs);
  }

  /** Crashes a node: its engines stop, its in-flight messages are lost, its storage stays. */
  crash(node: SimNode): void {
    if (!node.up) return;
    node.graph?.stop();
    node.graph = undefined;
    node.up = false;
    this.network.detach(node.id);
  }

  /** Messages leaving a node: honest ones are checked for double signing; Byzantine ones are bent. */
  private outbound(node: SimNode, to: string, bytes: Uint8Array, lamport: number): void {
    if (!node.up) return;
    if (node.honest) {
      this.checkNoDoubleSign(node, bytes);
      const why = this.conduct.checkHonest(bytes, (h) => this.setAt(h).index.get(node.key) ?? -1);
      if (why !== undefined)
        this.violations.push({ invariant: 'justification', detail: `honest ${node.id} ${why}` });
    }
    if (!node.honest && this.adversary !== undefined) {
      this.adversary.outbound(node, to, bytes, lamport);
      return;
    }
    if (!node.honest && this.o.behaviour === 'silent') return;
    if (!node.honest && this.o.behaviour === 'equivocate' && to === '') {
      const bent = this.equivocation(node, bytes);
      if (bent !== undefined) {
        const peers = this.network.nodes().filter((p) => p !== node.id);
        for (const [i, p] of peers.entries())
          this.sendFrame(node, CHANNEL_CONSENSUS, p, i % 2 === 0 ? bytes : bent, lamport);
        return;
      }
    }
    this.sendFrame(node, CHANNEL_CONSENSUS, to, bytes, lamport);
  }

  /** A conflicting twin of a vote or proposal, signed with the Byzantine node's own key. */
  private equivocation(node: SimNode, bytes: Uint8Array): Uint8Array | undefined {
    const env = this.envelopeOf(bytes);
    if (env === undefined) return undefined;
    const m = env.message;
    if (m.tag === 'vote' && this.keyOf(m.value.height, m.value.validator) === node.key) {
      const v = m.value;
      const blockHash = v.blockHash === null ? this.random.bytes(32) : null;
      const signature = node.signer.sign(voteSignBytes(this.chainId, { ...v, blockHash }));
      return encode(NetEnvelope, {
        chainId: this.chainId,
        message: { tag: 'vote', value: { ...v, blockHash, signature } },
      });
    }
    if (m.tag === 'proposal' && this.keyOf(m.value.height, m.value.proposer) === node.key) {
      const p = m.value;
      const txs = [...p.block.txs, this.random.bytes(8)];
      const header = { ...p.block.header, txsHash: txsHash(txs) };
      const block = { ...p.block, header, txs };
      const signature = node.signer.sign(
        proposalSignBytes(this.chainId, {
          height: p.height,
          round: p.round,
          validRound: p.validRound,
          blockHash: blockHash(header),
        }),
      );
      return encode(NetEnvelope, {
        chainId: this.chainId,
        message: { tag: 'proposal', value: { ...p, block, signature } },
      });
    }
    return undefined;
  }

  /**
   * Records what `node` itself signed and reports a second, different signature for the same
   * (height, round, step). Honest nodes also re-send other validators' votes (the proof of their
   * valid value), so a message counts only when its signature verifies under the sending node's
   * own key, and the record is keyed on that key: what each signer actually signed, wherever it
   * runs (two nodes sharing one key are one signer).
   */
  private checkNoDoubleSign(node: SimNode, bytes: Uint8Array): void {
    const env = this.envelopeOf(bytes);
    if (env === undefined) return;
    const m = env.message;
    const publicKey = node.signer.publicKey;
    let key: string;
    let value: string;
    if (m.tag === 'vote') {
      const v = m.value;
      if (!this.verify(publicKey, voteSignBytes(this.chainId, v), v.signature)) return; // relayed
      key = `${node.key}/${v.height}/${v.round}/${v.type}`;
      value = v.blockHash === null ? 'nil' : toHex(v.blockHash);
    } else if (m.tag === 'proposal') {
      const p = m.value;
      const hash = blockHash(p.block.header);
      if (!this.verify(publicKey, proposalSignBytes(this.chainId, { ...p, blockHash: hash }), p.signature))
        return;
      key = `${node.key}/${p.height}/${p.round}/proposal`;
      value = toHex(hash);
    } else return;
    const earlier = this.signedBy.get(key);
    if (earlier === undefined) this.signedBy.set(key, value);
    else if (earlier !== value) {
      const [, height, round, step] = key.split('/');
      this.violations.push({
        invariant: 'double-sign',
        detail: `honest ${node.id} (key ${node.key.slice(0, 8)}) signed ${step} at height ${height} round ${round} for ${earlier.slice(0, 8)} and ${value.slice(0, 8)}`,
      });
    }
  }

  /** What honest nodes receive, pooled: the forensic record that names equivocators (signatures checked). */
  private observeReceived(bytes: Uint8Array): void {
    const env = this.envelopeOf(bytes);
    if (env === undefined) return;
    if (env.message.tag === 'proposal') {
      const p = env.message.value;
      const publicKey = this.setAt(p.height).validators[p.proposer]?.publicKey;
      const hash = blockHash(p.block.header);
      const signed = proposalSignBytes(this.chainId, { ...p, blockHash: hash });
      if (publicKey === undefined || !this.verify(publicKey, signed, p.signature)) return;
      const key = `${p.proposer}/${p.height}/${p.round}`;
      const first = this.seenProposals.get(key);
      if (first === undefined) this.seenProposals.set(key, toHex(hash));
      else if (first !== toHex(hash)) this.culprits.add(toHex(publicKey));
      return;
    }
    if (env.message.tag !== 'vote') return;
    const v = env.message.value;
    const publicKey = this.setAt(v.height).validators[v.validator]?.publicKey;
    if (publicKey === undefined || !this.verify(publicKey, voteSignBytes(this.chainId, v), v.signature))
      return;
    const key = `${v.validator}/${v.height}/${v.round}/${v.type}`;
    const first = this.seenVotes.get(key);
    if (first === undefined) {
      this.seenVotes.set(key, v);
      return;
    }
    const same =
      first.blockHash === null || v.blockHash === null
        ? first.blockHash === v.blockHash
        : bytesEqual(first.blockHash, v.blockHash);
    if (!same) this.culprits.add(toHex(publicKey));
  }

  private onCommitted(node: SimNode, c: CommittedBlock): void {
    if (!node.up) return; // killed inside the step: the block never reached its disk
    const h = c.block.header.height;
    const hashBytes = blockHash(c.block.header);
    const hash = toHex(hashBytes);
    // a restarted node re-announces its last block to its app: the same block, once, is a replay
    const replay = node.replayAllowed && h === node.committed && hash === node.lastHash;
    node.replayAllowed = false;
    if (replay) return;
    if (node.honest) {
      if (h !== node.committed + 1n) {
        this.violations.push({
          invariant: 'integrity',
          detail: `${node.id} committed height ${h} after ${node.committed}`,
        });
      }
      // the oracle's own certificate check and quorum arithmetic, not the engine's checkCertificate
      if (!certifies(c.certificate, h, hashBytes, this.setAt(h), this.chainId, this.verify)) {
        this.violations.push({
          invariant: 'validity',
          detail: `${node.id} committed height ${h} without a valid certificate`,
        });
      }
      // and the block's own record of the height before: a certificate of the block it extends
      const last = c.block.lastCommit;
      const lastValid =
        h === 1n
          ? last === null
          : last !== null &&
            certifies(
              last,
              h - 1n,
              c.block.header.lastBlockHash,
              this.setAt(h - 1n),
              this.chainId,
              this.verify,
            );
      if (!lastValid) {
        this.violations.push({
          invariant: 'validity',
          detail: `${node.id} committed height ${h} whose last commit does not certify height ${h - 1n}`,
        });
      }
      const other = this.decided.get(h);
      if (other === undefined) {
        this.decided.set(h, hash);
        const updates = validatorUpdatesOf(c.block.txs);
        if (updates.length > 0) {
          const next = applyChanges(
            this.setAt(h + 1n),
            updates.map((u) => ({ publicKey: u.publicKey, power: Number(u.power) })),
          );
          if (!sameSet(next, this.setAt(h + 1n))) this.sets.set(h + 2n, next);
        }
      } else if (other !== hash) {
        this.violations.push({
          invariant: 'agreement',
          detail: `height ${h}: ${node.id} committed ${hash.slice(0, 12)}, another honest node ${other.slice(0, 12)}`,
        });
      }
    }
    node.committed = h;
    node.lastHash = hash;
    if (!node.honest) this.adversary?.committed(node, c);
    this.afterCommit(node);
  }

  /** Whether the run's own work is finished besides reaching the height (the base cluster has none). */
  protected workDone(): boolean {
    return true;
  }

  /** Messages and timeouts processed by every engine of every running node (for benchmarks). */
  engineSteps(): number {
    let n = 0;
    for (const node of this.nodes) {
      if (node.graph === undefined) continue;
      for (const name of node.graph.engineNames()) n += node.graph.instance(name).processed;
    }
    return n;
  }

  protected honestUp(): SimNode[] {
    return this.nodes.filter((n) => n.honest && n.up);
  }

  private prepared = false;

  /**
   * Starts every node and schedules the fault plan's crashes, once; then the scheduler can be
   * driven step by step (the visualiser does) or to the end by `run()`.
   */
  prepare(): void {
    if (this.prepared) return;
    this.prepared = true;
    for (const node of this.nodes) this.start(node);
    this.o.onStart?.(this);
    for (const c of this.o.plan.crashes) {
      const node = this.nodes.find((n) => n.id === c.node);
      if (node === undefined) continue;
      this.scheduler.at(c.at, () => this.crash(node));
      if (c.restartAt !== undefined) this.scheduleRestart(node, c.restartAt);
    }
  }

  run(): ClusterReport {
    const o = this.o;
    this.prepare();
    const planned = Math.max(stabilisationTime(o.plan), o.roundPartitions?.until ?? 0);
    // kills at writes happen when the write does: the last of their restarts moves it on
    const stable = () => Math.max(planned, this.lastWriteRestart);
    const perHeight = o.livenessPerHeightMs ?? 3_000;
    const deadlineOf = () => stable() + perHeight * (o.heights + 2);
    const target = BigInt(o.heights);
    const forked = () => o.stopOnFork === true && this.violations.some((v) => v.invariant === 'agreement');
    // asked before every task the scheduler runs: a loop, no arrays
    const honestAllAt = () => {
      for (const n of this.nodes) if (n.honest && n.up && n.committed < target) return false;
      return true;
    };
    const done = () =>
      forked() ||
      (this.pendingRestarts === 0 && this.workDone() && honestAllAt() && this.scheduler.now() >= stable());
    let lastReport = -1;
    for (;;) {
      const why = this.scheduler.run({ until: done, maxTime: deadlineOf(), maxSteps: 5_000 });
      if (o.onProgress) {
        const hs = this.honestUp().map((n) => Number(n.committed));
        const t = Math.floor(this.scheduler.now() / 1000);
        if (t !== lastReport) {
          lastReport = t;
          o.onProgress({
            time: this.scheduler.now(),
            minHeight: Math.min(...hs),
            maxHeight: Math.max(...hs),
          });
        }
      }
      if (why === 'steps' || (why === 'time' && this.scheduler.now() < deadlineOf())) continue;
      break;
    }
    const gst = stable();
    const deadline = deadlineOf();
    const laggards = this.honestUp().filter((n) => n.committed < target);
    // liveness is owed only while the honest validators hold more than 2/3 of the power
    const honestPower = this.genesis
      .slice(0, o.validators - o.byzantine)
      .reduce((a, g) => a + BigInt(g.power), 0n);
    if (laggards.length > 0 && !forked() && exceedsTwoThirds(honestPower, BigInt(this.totalPower))) {
      this.violations.push({
        invariant: 'liveness',
        detail: `after stabilisation at ${gst} ms, ${laggards.map((n) => `${n.id}@${n.committed}`).join(', ')} had not reached height ${o.heights} by ${deadline} ms`,
      });
    }
    const agreementBroken = this.violations.some((v) => v.invariant === 'agreement');
    // accountability also means never blaming the innocent
    const framed = this.nodes.filter((n) => n.honest && this.culprits.has(n.key)).map((n) => n.id);
    if (framed.length > 0) {
      this.violations.push({
        invariant: 'accountability',
        detail: `honest ${framed.join(', ')} named as equivocators`,
      });
    }
    const culpritPower = [...this.culprits].reduce(
      (a, k) => a + (this.set.validators[this.set.index.get(k) ?? -1]?.power ?? 0),
      0,
    );
    // accountability: a safety violation must come with proof against at least n/3 of the power
    if (agreementBroken && culpritPower * 3 < this.totalPower) {
      this.violations.push({
        invariant: 'accountability',
        detail: `agreement broke but evidence names only ${culpritPower} of ${this.totalPower} voting power`,
      });
    }
    return {
      seed: o.seed,
      plan: describePlan(o.plan),
      traceHash: this.o.trace === false ? '' : this.inspector.traceHash(),
      virtualTime: this.scheduler.now(),
      heights: Object.fromEntries(this.nodes.map((n) => [n.id, Number(n.committed)])),
      violations: this.violations,
      agreementBroken,
      culprits: this.nodes.filter((n) => this.culprits.has(n.key)).map((n) => n.id),
      culpritPower,
      totalPower: this.totalPower,
      messages: {
        sent: this.network.stats.sent,
        delivered: this.network.stats.delivered,
        dropped: this.network.stats.dropped,
        partitioned: this.network.stats.partitioned,
      },
      penalties: this.penalties,
      penaltyReasons: { ...this.penaltyReasons },
      lies: { ...this.adversary?.lies },
      events: this.inspector.eventCount,
      failed: Object.fromEntries(this.failed),
      storageFaults: [...this.storageLog],
    };
  }
}

export function runCluster(o: ClusterOptions): ClusterReport {
  return new Cluster(o).run();
}
