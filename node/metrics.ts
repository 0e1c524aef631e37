/**
 * Prometheus metrics for one node (prom-client, served at `/metrics`): chain progress, peers,
 * mempool size, per-engine message counts and mailbox depths, and latency histograms. Gauges
 * that mirror engine state are read at scrape time, so engines pay nothing between scrapes.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineGraph } from '../runtime/graph.ts';

export interface NodeGauges {
  height(): number;
  round(): number;
  executedHeight(): number;
  peers(): number;
  mempoolSize(): number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  /** proposer time stamp of a block to its commit here, seconds */
  readonly commitLatency: Histogram;
  /** an RPC submission to its receipt at this node, seconds */
  readonly txLatency: Histogram;
  readonly submitted: Counter<'outcome'>;
  readonly penalties: Counter<'engine' | 'reason'>;

  constructor(node: string, graph: EngineGraph, g: NodeGauges) {
    this.registry.setDefaultLabels({ node });
    collectDefaultMetrics({ register: this.registry, prefix: 'fractal_process_' });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('fractal_height', 'highest committed height', g.height);
    gauge('fractal_round', 'consensus round at the current height', g.round);
    gauge('fractal_executed_height', 'highest height executed (state root known)', g.executedHeight);
    gauge('fractal_peers', 'connected peers', g.peers);
    gauge('fractal_mempool_size', 'envelopes in the mempool', g.mempoolSize);
    const processed = new Map<string, number>();
    new Counter({
      name: 'fractal_engine_messages_total',
      help: 'messages and timeouts each engine has processed',
      labelNames: ['engine'],
      registers: [this.registry],
      collect() {
        for (const name of graph.engineNames()) {
          const now = graph.instance(name).processed;
          const delta = now - (processed.get(name) ?? 0);
          processed.set(name, now);
          // a restarted node starts from zero again: a counter only goes up
          if (delta > 0) this.inc({ engine: name }, delta);
        }
      },
    });
    const perEngine = (name: string, help: string, read: (engine: string) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['engine'],
        registers: [this.registry],
        collect() {
          for (const engine of graph.engineNames()) this.set({ engine }, read(engine));
        },
      });
    perEngine(
      'fractal_engine_mailbox',
      'messages accepted by each engine and not yet processed',
      (e) => graph.instance(e).mailboxDepth,
    );
    perEngine(
      'fractal_engine_restarts',
      'supervised restarts of each engine',
      (e) => graph.instance(e).restarts,
    );
    this.commitLatency = new Histogram({
      name: 'fractal_commit_latency_seconds',
      help: "a block's proposal time stamp to its commit at this node",
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10],
      registers: [this.registry],
    });
    this.txLatency = new Histogram({
      name: 'fractal_tx_latency_seconds',
      help: 'a transaction submitted over RPC to its receipt at this node',
      buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 60],
      registers: [this.registry],
    });
    this.submitted = new Counter({
      name: 'fractal_rpc_submitted_total',
      help: 'transactions submitted over RPC, by admission outcome',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.penalties = new Counter({
      name: 'fractal_peer_penalties_total',
      help: 'penalties engines gave peers, by reason',
      labelNames: ['engine', 'reason'],
      registers: [this.registry],
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
