/**
 * A live Fractal node: the engine graph of assembly/assemble.ts on the wall clock, over SQLite, with
 * its `net` ports carried by the encrypted WebSocket transport, a JSON-RPC API, Prometheus metrics
 * and structured logs. Roles decide which engines run (a validator signs and holds a DKG share; a
 * full node follows, serves and relays).
 *
 * Start-up resumes from the data directory: consensus replays its WAL and block store, the
 * decryptor its block log, the executor its ledger, the query index repairs what a crash cut off.
 * Shutdown stops intake first (RPC, network), lets the mailboxes drain, then closes storage.
 */

import { swapOwnerPredicate } from '../apps/swap/predicate.ts';
import { registerTokenCode } from '../apps/token/index.ts';
import { type ConsensusPorts, type PipelineApp, wirePipelineApp } from '../assembly/assemble.ts';
import { consensusEngine } from '../engines/consensus/engine.ts';
import { consensusStateOf } from '../engines/consensus/machine.ts';
import type { ConsensusState } from '../engines/consensus/node.ts';
import { ConsensusStore } from '../engines/consensus/store.ts';
import { genesisRoot, Ledger } from '../engines/executor/ledger.ts';
import type { BlockReceipts } from '../engines/executor/ports.ts';
import { NoteStore } from '../engines/executor/state.ts';
import type { AdmitReply } from '../engines/mempool/ports.ts';
import { engineOffenceWeight } from '../peer/scores.ts';
import { EngineGraph } from '../runtime/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { LiveScheduler } from '../runtime/scheduler.ts';
import type { SqliteStorage } from '../storage/sqlite.ts';
import { VizHub } from '../viz/hub.ts';
import { VIZ_PATH, VIZ_WS_PATH, vizRoutes, vizUpgrade } from '../viz/server.ts';
import { LiveSource } from '../viz/source.ts';
import { sha256, toHex } from '../wire/commit.ts';
import type { EpochKey } from '../wire/envelope.ts';
import { blockHash, type CommittedBlock } from '../wire/ledger.ts';
import { createSigner, verifyCached } from '../wire/sign.ts';
import { type NodeStatus, nodeApi } from './api.ts';
import { tokenOf } from './client.ts';
import {
  BUILT_ROLES,
  ConfigError,
  dkgSecret,
  type Genesis,
  type NodeConfig,
  publicKeysOf,
  thresholdOf,
} from './config.ts';
import { openNodeDatabase, prepareDataDir } from './datadir.ts';
import { Indexer } from './indexer.ts';
import { CHANNEL_GOSSIP, IntentServices } from './intents.ts';
import { createLogger, type Logger, logFn } from './log.ts';
import { NodeMetrics } from './metrics.ts';
import { PeerNetwork } from './net/index.ts';
import { RpcServer } from './rpc/index.ts';
import { guardedSigner, signingStateFile } from './signing-state.ts';
import { SubmitUnanswered } from './submit-error.ts';

export const CHANNEL_CONSENSUS = 0;
export const CHANNEL_MEMPOOL = 1;

const GENESIS_KEY = new TextEncoder().encode('n/genesis');
const SUBMIT_TIMEOUT_MS = 10_000;

/**
 * A block's Merkle nodes land on random keys all over the table, so consecutive commits dirty the
 * same pages: checkpointing the WAL every 8192 pages (32 MiB) instead of SQLite's 1000 copies each
 * page back once for several blocks instead of once per block.
 */
const WAL_AUTOCHECKPOINT_PAGES = 8192;
const DRAIN_TIMEOUT_MS = 5_000;

export type { NodeStatus } from './api.ts';

export interface LiveNodeOptions {
  config: NodeConfig;
  genesis: Genesis;
  identity: Uint8Array;
  /** where JSON log lines go (default stdout) */
  logDestination?: import('pino').DestinationStream;
}

/** The genesis as stored: a data directory only ever serves the genesis it was created with. */
function genesisId(g: Genesis): string {
  const canonical = JSON.stringify({
    instance: g.instance,
    validators: g.validators.map((v) => [v.name, toHex(v.publicKey), v.power, toHex(v.encryptionKey)]),
    mintAuthority: toHex(g.mintAuthority),
    accounts: g.accounts.map(toHex),
    feeAccounts: g.feeAccounts.map((a) => [toHex(a.publicKey), a.balance.toString()]),
    dkg: g.dkg,
  });
  return toHex(sha256(new TextEncoder().encode(canonical)));
}

export class LiveNode {
  readonly logger: Logger;
  readonly storage: SqliteStorage;
  readonly graph: EngineGraph;
  readonly network: PeerNetwork;
  readonly rpc: RpcServer;
  /** The visualiser's feed of this node (served by the RPC server under /viz/). */
  readonly viz: VizHub;
  readonly metrics: NodeMetrics;
  readonly indexer: Indexer;
  readonly consensus: ConsensusPorts;
  readonly app: PipelineApp;
  readonly publicKey: Uint8Array;
  /** intent gossip and, on a solver, the solver (roles `gossip`, `solver`) */
  readonly intents: IntentServices | undefined;
  epochKey: EpochKey | undefined;
  private committedHeight = 0n;
  private readonly pending = new Map<string, (r: AdmitReply) => void>();
  private readonly submittedAt = new Map<string, number>();
  private submissions = 0;
  private stopping: Promise<void> | undefined;
  /** why the node stopped itself (an engine failed, its storage failed) */
  private failure: string | undefined;
  private stopped!: () => void;
  /** Settles once the node has stopped, whether asked to or because it failed. */
  readonly done = new Promise<void>((resolve) => {
    this.stopped = resolve;
  });

  private constructor(
    readonly config: NodeConfig,
    readonly genesis: Genesis,
    identity: Uint8Array,
    destination: import('pino').DestinationStream | undefined,
  ) {
    for (const role of config.roles) {
      if (!BUILT_ROLES.includes(role)) {
        throw new ConfigError(
          config.file,
          'roles',
          `the ${role} role's engines are not built yet (use validator or full)`,
        );
      }
    }
    this.logger = createLogger(config.name, config.logLevel, destination);
    this.publicKey = publicKeysOf(identity).publicKey;
    const isValidator = config.roles.includes('validator');
    const listed = genesis.validators.some((v) => toHex(v.publicKey) === toHex(this.publicKey));
    if (isValidator && !listed) {
      throw new ConfigError(
        config.file,
        'roles',
        `this node's key ${toHex(this.publicKey).slice(0, 16)}… is not a genesis validator; run it as a full node`,
      );
    }
    prepareDataDir(config.file, config.dataDir);
    this.storage = openNodeDatabase(config.file, config.dataDir, {
      synchronous: config.sync,
      maxBytes: config.maxDatabaseMiB * 1024 * 1024,
      checksums: config.startupCheck === 'full',
      walAutocheckpoint: WAL_AUTOCHECKPOINT_PAGES,
      remedy:
        'restore it from a backup, or move it aside and start afresh (a validator re-syncs from its peers, and its signing state beside the key keeps it from signing twice)',
      progress: (n) => this.logger.info({ records: n }, 'checking the database'),
    });
    this.checkGenesis();
    // a validator's votes and proposals pass the signing state kept beside its key
    const signer = isValidator
      ? guardedSigner(createSigner(identity), signingStateFile(config.identityKey), {
          fsync: config.sync === 'full',
          ...(config.signingLog === undefined ? {} : { log: config.signingLog }),
        })
      : createSigner(identity);
    const scheduler = new LiveScheduler();
    this.graph = new EngineGraph({
      node: config.name,
      scheduler,
      inspector: new Inspector(),
      seed: config.name,
      storage: this.storage,
      signer,
      verify: verifyCached,
    });
    const t = config.timeouts;
    this.consensus = this.graph.add('consensus', consensusEngine, {
      chainId: genesis.instance,
      validators: genesis.validators.map((v) => ({ publicKey: v.publicKey, power: v.power })),
      genesisAppRoot: genesisRoot(genesis.feeAccounts),
      awaitAppRoot: true,
      blockInterval: config.blockInterval,
      timeouts: {
        propose: t.propose,
        proposeDelta: Math.ceil(t.propose / 2),
        prevote: t.prevote,
        prevoteDelta: Math.ceil(t.prevote / 2),
        precommit: t.precommit,
        precommitDelta: Math.ceil(t.precommit / 2),
      },
    });
    this.app = wirePipelineApp(this.graph, this.consensus, {
      instance: genesis.instance,
      validators: genesis.validators.map((v) => ({ publicKey: v.publicKey, encryptionKey: v.encryptionKey })),
      threshold: thresholdOf(genesis.validators.length),
      ...(isValidator ? { secret: dkgSecret(identity) } : {}),
      dkg: genesis.dkg,
      shards: config.shards,
    });
    this.indexer = new Indexer(this.storage);
    // a resumed node reports the height it has on disk until consensus commits the next one
    this.committedHeight = new ConsensusStore(this.storage).lastHeight();
    this.network = new PeerNetwork({
      instance: genesis.instance,
      secretKey: identity,
      listen: { host: config.p2p.host, port: config.p2p.port },
      peers: config.peers,
      peerExchange: config.p2p.peerExchange,
      log: logFn(this.logger.child({ engine: 'net' })),
    });
    this.intents = config.roles.includes('gossip')
      ? new IntentServices({
          graph: this.graph,
          storage: this.storage,
          genesis,
          config,
          identity,
          network: this.network,
          submitEnvelope: (bytes) => this.submit(bytes),
          committedHeight: () => this.committedHeight,
          epochKey: () => this.epochKey,
          publish: (topic, value) => this.rpc.publish(topic, value),
          logger: this.logger.child({ engine: 'intents' }),
        })
      : undefined;
    this.metrics = new NodeMetrics(config.name, this.graph, {
      height: () => Number(this.committedHeight),
      round: () => this.consensusState()?.round.round ?? -1,
      executedHeight: () => Number(this.indexer.ledger.executedHeight()),
      peers: () => this.network.peers().length,
      mempoolSize: () => this.mempoolSize(),
    });
    this.viz = new VizHub(new LiveSource(this.graph, this.graph.inspector, `node ${config.name}`), {
      allowLoad: false,
      log: (msg) => this.logger.warn(msg),
    });
    this.rpc = new RpcServer({
      host: config.rpc.host,
      port: config.rpc.port,
      corsAllowedOrigins: config.rpc.corsAllowedOrigins,
      methods: nodeApi(this),
      topics: ['blocks', 'receipts', 'settlements'],
      upgrades: { [VIZ_WS_PATH]: vizUpgrade(this.viz) },
      routes: {
        ...vizRoutes(),
        '/metrics': async (_req, res) => {
          res.writeHead(200, { 'content-type': this.metrics.contentType });
          res.end(await this.metrics.text());
        },
        '/health': (_req, res) => {
          const ok = this.stopping === undefined && this.failure === undefined;
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              ok,
              height: Number(this.committedHeight),
              ...(this.failure === undefined ? {} : { failed: this.failure }),
            }),
          );
        },
      },
      log: logFn(this.logger.child({ engine: 'rpc' })),
    });
    this.wire();
  }

  /** Opens storage, assembles the graph and starts engines, transport and RPC. */
  static async start(o: LiveNodeOptions): Promise<LiveNode> {
    const node = new LiveNode(o.config, o.genesis, o.identity, o.logDestination);
    // Bind both listeners before any engine runs: an address the node cannot have (a taken port,
    // a host that does not resolve or is not this machine's) ends the start with a ListenError,
    // before this node proposes, votes or dials a peer, and leaves nothing running.
    try {
      await node.network.listen();
      await node.rpc.start();
    } catch (e) {
      await node.stop('cannot listen');
      throw e;
    }
    node.graph.start();
    await node.network.start();
    node.viz.start();
    node.logger.info(
      {
        publicKey: toHex(node.publicKey),
        roles: o.config.roles,
        height: Number(node.committedHeight),
        p2p: node.network.port,
        rpc: node.rpc.url,
        viz: node.vizUrl,
      },
      'node started',
    );
    return node;
  }

  private checkGenesis(): void {
    const id = new TextEncoder().encode(genesisId(this.genesis));
    const stored = this.storage.read(GENESIS_KEY);
    if (stored === undefined) {
      const notes = new NoteStore(this.storage);
      // the validators' token accounts too: routing rewards pay the gossip nodes there
      registerTokenCode(notes, tokenOf(this.genesis.mintAuthority), [
        ...this.genesis.accounts,
        ...this.genesis.validators.map((v) => v.publicKey),
      ]);
      // the swap accounts of the same keys, and of the validators (a solver pays rounding dust from its own)
      for (const pk of [...this.genesis.accounts, ...this.genesis.validators.map((v) => v.publicKey)])
        notes.registerCode(swapOwnerPredicate(pk).fn);
      new Ledger(this.storage).seedGenesis(this.genesis.feeAccounts);
      this.storage.write(GENESIS_KEY, id);
    } else if (toHex(stored) !== toHex(id)) {
      this.storage.close();
      throw new ConfigError(
        this.config.genesis,
        '',
        `the data directory ${this.config.dataDir} belongs to another genesis (start afresh with --reset, or point dataDir elsewhere)`,
      );
    }
  }

  private wire(): void {
    const g = this.graph;
    const { mempool, decryptor, executor } = this.app;
    const consensusLog = this.logger.child({ engine: 'consensus' });
    const mempoolLog = this.logger.child({ engine: 'mempool' });
    const decryptorLog = this.logger.child({ engine: 'decryptor' });
    const executorLog = this.logger.child({ engine: 'executor' });
    const carry = (channel: number) => (m: { to: string; bytes: Uint8Array }) => {
      if (m.to === '') this.network.broadcast(channel, m.bytes);
      else this.network.send(m.to, channel, m.bytes);
    };
    g.observe(this.consensus.out.net).subscribe(carry(CHANNEL_CONSENSUS));
    g.observe(mempool.out.net).subscribe(carry(CHANNEL_MEMPOOL));
    this.network.onFrame((peer, channel, bytes) => {
      if (this.stopping !== undefined) return;
      if (channel === CHANNEL_CONSENSUS) g.send(this.consensus.in.net, { peer, bytes }, `net:${peer}`);
      else if (channel === CHANNEL_MEMPOOL) g.send(mempool.in.net, { peer, bytes }, `net:${peer}`);
      // a node without the gossip role ignores intent gossip: the channel is known, not served
      else if (channel === CHANNEL_GOSSIP) this.intents?.onFrame(peer, bytes);
      else this.network.penalise(peer, 'unknown-channel', 10);
    });
    const intents = this.intents;
    if (intents !== undefined) {
      this.network.events$.subscribe((e) => {
        if (this.stopping !== undefined) return;
        if (e.type === 'up') intents.onLink(e.peer.id, true);
        else intents.onLink(e.peer, false);
      });
      g.observe(decryptor.out.ordered).subscribe((b) => intents.onOrdered(b));
    }
    const penalty = (engine: string, log: Logger) => (p: { peer: string; reason: string }) => {
      this.metrics.penalties.inc({ engine, reason: p.reason });
      log.debug({ peer: p.peer.slice(0, 16), reason: p.reason }, 'peer penalised');
      // only penalties that prove misbehaviour cost transport score (peer/scores.ts)
      const weight = engineOffenceWeight(p.reason);
      if (weight > 0) this.network.penalise(p.peer, `${engine}:${p.reason}`, weight);
    };
    g.observe(this.consensus.out.penalty).subscribe(penalty('consensus', consensusLog));
    g.observe(mempool.out.penalty).subscribe(penalty('mempool', mempoolLog));
    g.observe(this.consensus.out.committed).subscribe(
      this.guard('committed', (c) => this.onCommitted(c, consensusLog)),
    );
    g.observe(mempool.out.admitted).subscribe((r) => {
      const resolve = this.pending.get(r.id);
      if (resolve === undefined) return;
      this.pending.delete(r.id);
      resolve(r);
    });
    g.observe(decryptor.out.epochKey).subscribe((k) => {
      if (this.epochKey === undefined || this.epochKey.epoch !== k.epoch) {
        decryptorLog.info({ epoch: k.epoch.toString(), publicKey: toHex(k.publicKey) }, 'epoch key ready');
      }
      this.epochKey = k;
    });
    g.observe(decryptor.out.ordered).subscribe(this.guard('indexing', (b) => this.indexer.onOrdered(b)));
    g.observe(executor.out.receipts).subscribe(
      this.guard('indexing', (r) => this.onReceipts(r, executorLog)),
    );
    // faults only: subscribing to events$ would make every engine step build inspection events
    this.graph.inspector.faults$.subscribe((e) => {
      if (e.kind === 'crash') this.logger.error({ engine: e.engine, error: e.error }, 'engine crashed');
      else if (e.kind === 'restart')
        this.logger.warn({ engine: e.engine, restarts: e.restarts }, 'engine restarted');
      else if (e.kind === 'failed') {
        this.logger.error({ engine: e.engine, reason: e.reason }, 'engine failed');
        // a node with a failed engine is not a node: it stops instead of lingering half alive
        this.fail(`the ${e.engine} engine failed: ${e.reason}`);
      }
    });
  }

  /** A subscriber whose errors stop the node (what it does must not fail silently, nor crash the process). */
  private guard<T>(what: string, fn: (v: T) => void): (v: T) => void {
    return (v) => {
      try {
        fn(v);
      } catch (e) {
        this.fail(`${what}: ${(e as Error).message}`);
      }
    };
  }

  /** Stops the node because it cannot go on; `failed` then says why. */
  private fail(reason: string): void {
    if (this.failure !== undefined) return;
    this.failure = /storage full:/.test(reason)
      ? `the disk is full (or the database reached maxDatabaseMiB); nothing committed is lost: free space and start the node again (${reason})`
      : reason;
    this.logger.fatal({ reason: this.failure }, 'node failed: stopping');
    void this.stop('failed');
  }

  /** Why the node stopped itself, if it did. */
  get failed(): string | undefined {
    return this.failure;
  }

  private onCommitted(c: CommittedBlock, log: Logger): void {
    const h = c.block.header.height;
    if (h <= this.committedHeight) return; // the replay of the last block after a restart
    this.committedHeight = h;
    const latency = (Date.now() - Number(c.block.header.time)) / 1000;
    if (latency >= 0 && latency < 3600) this.metrics.commitLatency.observe(latency);
    const hash = toHex(blockHash(c.block.header));
    log.debug({ height: Number(h), hash: hash.slice(0, 16), txs: c.block.txs.length }, 'committed');
    this.rpc.publish('blocks', {
      height: h.toString(),
      hash,
      time: c.block.header.time.toString(),
      txs: c.block.txs.length,
      round: c.certificate.round,
      // this node's clock when it committed: lets a client split latency without its own delivery lag
      committedAt: Date.now(),
    });
  }

  private onReceipts(r: BlockReceipts, log: Logger): void {
    const entries = this.indexer.onReceipts(r);
    this.intents?.onReceipts(
      r,
      entries.map((e) => e.hash),
    );
    const now = Date.now();
    const out: { hash: string; accepted: boolean; phase: string; reason: string }[] = [];
    let repeats = 0;
    for (const [i, rc] of r.receipts.entries()) {
      const entry = entries[i];
      // a copy of an envelope that already has a receipt (a replay) is not announced as its outcome
      if (entry !== undefined && !entry.first) {
        repeats++;
        continue;
      }
      const hash = entry?.hash ?? '';
      const at = this.submittedAt.get(hash);
      if (at !== undefined) {
        this.submittedAt.delete(hash);
        this.metrics.txLatency.observe((now - at) / 1000);
      }
      out.push({ hash, accepted: rc.accepted, phase: rc.phase, reason: rc.reason });
    }
    if (repeats > 0)
      log.warn({ height: Number(r.height), repeats }, 'block carried envelopes already executed');
    if (out.length > 0) log.debug({ height: Number(r.height), txs: out.length }, 'executed');
    this.rpc.publish('receipts', {
      height: r.height.toString(),
      root: toHex(r.root),
      // this node's clock when it executed the height
      executedAt: now,
      receipts: out,
    });
  }

  consensusState(): ConsensusState | undefined {
    try {
      return consensusStateOf(this.graph.instance('consensus').context<unknown>());
    } catch {
      return undefined;
    }
  }

  mempoolSize(): number {
    try {
      return this.graph.instance('mempool').context<{ size: number }>().size;
    } catch {
      return 0;
    }
  }

  get height(): bigint {
    return this.committedHeight;
  }

  /** The visualiser page of this node. */
  get vizUrl(): string {
    return new URL(VIZ_PATH, this.rpc.url).toString();
  }

  status(): NodeStatus {
    const cs = this.consensusState();
    const executed = this.indexer.ledger.executedHeight();
    const root = executed > 0n ? this.indexer.ledger.receipts(executed)?.root : undefined;
    return {
      node: this.config.name,
      instance: this.genesis.instance,
      publicKey: toHex(this.publicKey),
      roles: [...this.config.roles],
      height: Number(this.committedHeight),
      round: cs?.round.round ?? -1,
      step: cs?.round.step ?? 'stopped',
      executedHeight: Number(executed),
      appRoot: root === undefined ? null : toHex(root),
      epochKey:
        this.epochKey === undefined
          ? null
          : { epoch: this.epochKey.epoch.toString(), publicKey: toHex(this.epochKey.publicKey) },
      peers: this.network.peers().length,
      mempool: this.mempoolSize(),
      intents: this.intents === undefined ? null : { pool: this.intents.poolSize(), ...this.intents.stats },
    };
  }

  /** Hands a signed envelope to the mempool and waits for its admission verdict. */
  submit(bytes: Uint8Array): Promise<AdmitReply> {
    if (this.stopping !== undefined)
      return Promise.reject(new SubmitUnanswered('shutting-down', SUBMIT_TIMEOUT_MS));
    const id = `rpc:${++this.submissions}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SubmitUnanswered('mempool-timeout', SUBMIT_TIMEOUT_MS));
      }, SUBMIT_TIMEOUT_MS);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        if (r.ok && r.hash !== null) this.submittedAt.set(toHex(r.hash), Date.now());
        this.metrics.submitted.inc({ outcome: r.ok ? 'admitted' : (r.reason ?? 'rejected') });
        resolve(r);
      });
      this.graph.send(this.app.mempool.in.submit, { id, bytes }, 'rpc');
    });
  }

  /** Graceful: stop intake, drain mailboxes, stop engines, close storage (idempotent). */
  stop(reason = 'stop'): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info({ reason }, 'shutting down');
      this.viz.close();
      this.intents?.stop();
      await this.rpc.close();
      await this.network.close();
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      const busy = () => this.graph.engineNames().some((n) => this.graph.instance(n).mailboxDepth > 0);
      while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      this.graph.stop();
      this.storage.close();
      this.logger.info({ height: Number(this.committedHeight), drained: !busy() }, 'stopped');
    })().finally(() => this.stopped());
    return this.stopping;
  }
}
