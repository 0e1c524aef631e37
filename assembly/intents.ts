/**
 * The intent engines of a node, assembled the same way in a simulation and in a live node: the
 * gossip engine with the swap application's receiver-side check and, on a solver, the solver
 * engine with the swap batch auction, fed what gossip delivers. What carries gossip's `net` port,
 * who submits the solver's solutions and where the chain's progress comes from is the caller's.
 */
import { swapSolveBatch } from '../apps/swap/batch.ts';
import { offeredNotes } from '../apps/swap/body.ts';
import { type AssetRef, readIntent, swapTopic } from '../apps/swap/format.ts';
import { type Note, Transaction } from '../engines/executor/notes.ts';
import type { BlockReceipts } from '../engines/executor/ports.ts';
import { createGossipEngine } from '../engines/gossip/engine.ts';
import { createSolverEngine } from '../engines/solver/engine.ts';
import type { EngineGraph, EngineHandle } from '../runtime/graph.ts';
import { toHex } from '../wire/commit.ts';
import { type IntentBody, spentNoteId } from '../wire/intent.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { tryDecode } from '../wire/schema.ts';

type GossipEngine = ReturnType<typeof createGossipEngine>;
type SolverEngine = ReturnType<typeof createSolverEngine>;
export type GossipPorts = EngineHandle<GossipEngine['inputs'], GossipEngine['outputs']>;
export type SolverPorts = EngineHandle<SolverEngine['inputs'], SolverEngine['outputs']>;

export interface IntentAppConfig {
  /** the overlay's name (the instance) */
  overlay: string;
  /** the gossip topics this node wants */
  topics: readonly string[];
  /** the note stored under a storage key, as this node's state stands */
  noteAt(storageKey: Uint8Array): Note | undefined;
  /** a solver: its ed25519 seed, its swap-owner notes (rounding dust), and its batch cadence */
  solver?: {
    secretKey: Uint8Array;
    notes(): readonly Note[];
    batchEvery: number;
    batchSize: number;
    /** this node's gossip key: where the routes it pays end (absent: intents with a route fee are left out) */
    node?: Uint8Array;
  };
}

/** The swap topics among `assets` of one application, both ways (`swap/v1/<give>/<want>`). */
export function swapTopics(application: Uint8Array, assets: readonly Uint8Array[]): string[] {
  const refs: AssetRef[] = assets.map((asset) => ({ provenance: [], application, asset }));
  return refs.flatMap((give) => refs.filter((want) => want !== give).map((want) => swapTopic(give, want)));
}

/**
 * The ids (`spentNoteId`) of the notes an executed block's accepted transactions consumed: a note
 * a transaction both read and wrote (outputs are only written, references only read).
 */
export function spentNoteIds(block: OrderedBlock | undefined, receipts: BlockReceipts): Uint8Array[] {
  const spent: Uint8Array[] = [];
  if (block === undefined) return spent;
  for (const [i, rc] of receipts.receipts.entries()) {
    const entry = block.txs[i];
    if (!rc.accepted || entry === undefined || entry.tx.tag === 'discarded') continue;
    const tx = tryDecode(Transaction, entry.tx.value);
    if (!tx.ok) continue;
    const written = new Set(tx.value.stateWriteConstraints.map(toHex));
    for (const k of tx.value.stateReadConstraints) if (written.has(toHex(k))) spent.push(spentNoteId(k));
  }
  return spent.slice(0, 1 << 16);
}

/** Adds the gossip engine (and the solver, fed by it) to `graph`. */
export function wireIntentApp(
  graph: EngineGraph,
  cfg: IntentAppConfig,
): { gossip: GossipPorts; solver: SolverPorts | undefined } {
  // an intent whose offered notes no longer stand here is dropped, its sender not penalised
  const stillValid = (body: IntentBody): boolean => {
    const read = readIntent(body.payload);
    return read.ok && offeredNotes(read.intent.terms).every((k) => cfg.noteAt(k) !== undefined);
  };
  const gossip = graph.add('gossip', createGossipEngine({ stillValid }), {
    overlay: cfg.overlay,
    filter: { topics: [...cfg.topics], where: [] },
  });
  if (cfg.solver === undefined) return { gossip, solver: undefined };
  const s = cfg.solver;
  const solve = swapSolveBatch({
    noteAt: cfg.noteAt,
    solver: { secretKey: s.secretKey, notes: s.notes },
    ...(s.node === undefined ? {} : { node: s.node }),
  });
  const solver = graph.add('solver', createSolverEngine(solve), {
    batchSize: s.batchSize,
    batchEvery: s.batchEvery,
  });
  graph.connect(gossip.out.intents, solver.in.intents);
  graph.connect(gossip.out.gone, solver.in.gone);
  return { gossip, solver };
}
