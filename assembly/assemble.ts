/**
 * The engines of a Fractal node and their channels, assembled the same way in a simulation and in
 * a live node: consensus orders, the mempool feeds it, the decryptor turns committed blocks into
 * executable ones (threshold decryption in committed order), the executor runs them and reports
 * the state root back to consensus. What carries the `net` ports (simulated network or WebSocket
 * transport) is the caller's business; the engines do not change.
 */

import type { consensusEngine } from '../engines/consensus/engine.ts';
import { decryptorEngine } from '../engines/decryptor/engine.ts';
import type { DecryptorValidator } from '../engines/decryptor/pipeline.ts';
import { executorEngine } from '../engines/executor/engine.ts';
import { addShardedExecutor } from '../engines/executor/sharded.ts';
import { mempoolEngine } from '../engines/mempool/engine.ts';
import type { EngineGraph, EngineHandle } from '../runtime/graph.ts';
import { nodeMultievaluate } from './vm.ts';

/** The consensus engine's ports in a graph: what the rest of the pipeline connects to. */
export type ConsensusPorts = EngineHandle<typeof consensusEngine.inputs, typeof consensusEngine.outputs>;

export interface PipelineAppConfig {
  instance: string;
  /** the DKG participants (identity and encryption keys), in genesis order */
  validators: readonly DecryptorValidator[];
  threshold: number;
  /** this validator's DKG secret; absent on a full node */
  secret?: Uint8Array;
  dkg?: { start: number; dealWindow: number; complaintWindow: number };
  /** execute on a coordinator and this many shard engines instead of the one-engine executor */
  shards?: number;
  gasLimit?: number;
}

export const DEFAULT_GAS_LIMIT = 10_000_000;

/** Adds mempool, decryptor and executor to `graph` and connects them to `consensus`. */
export function wirePipelineApp(graph: EngineGraph, consensus: ConsensusPorts, cfg: PipelineAppConfig) {
  const mempool = graph.add('mempool', mempoolEngine, {
    instance: cfg.instance,
    validators: cfg.validators.map((v) => v.publicKey),
  });
  const decryptor = graph.add('decryptor', decryptorEngine, {
    instance: cfg.instance,
    validators: cfg.validators,
    threshold: cfg.threshold,
    ...(cfg.secret === undefined ? {} : { secret: cfg.secret }),
    ...(cfg.dkg === undefined
      ? {}
      : {
          dkgStart: BigInt(cfg.dkg.start),
          dealWindow: cfg.dkg.dealWindow,
          complaintWindow: cfg.dkg.complaintWindow,
        }),
  });
  const gasLimit = cfg.gasLimit ?? DEFAULT_GAS_LIMIT;
  const executor =
    cfg.shards === undefined || cfg.shards === 0
      ? graph.add('executor', executorEngine(nodeMultievaluate), { gasLimit })
      : addShardedExecutor(graph, 'executor', { shards: cfg.shards, mev: nodeMultievaluate, gasLimit });
  graph.connect(mempool.out.txs, consensus.in.txs);
  graph.connect(consensus.out.committed, mempool.in.committed);
  graph.connect(consensus.out.committed, decryptor.in.committed);
  graph.connect(decryptor.out.submit, mempool.in.submit);
  graph.connect(decryptor.out.epochKey, mempool.in.epochKey);
  graph.connect(decryptor.out.ordered, executor.in.ordered);
  graph.connect(executor.out.appRoot, consensus.in.appRoot);
  return { mempool, decryptor, executor };
}

export type PipelineApp = ReturnType<typeof wirePipelineApp>;
