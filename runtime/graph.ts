/**
 * An engine graph: the engines of one node and the channels between them.
 *
 *   const g = new EngineGraph({ node: 'n0', scheduler, inspector, seed: 7 });
 *   const a = g.add('producer', producerEngine, { jobs: 10 });
 *   const b = g.add('worker', workerEngine);
 *   g.connect(a.out.jobs, b.in.jobs);
 *   g.start();
 *
 * Connections are typed: an output of message type T only connects to an input of type T, and
 * the runtime also checks that both ports denote the same wire type.
 */
import type { Observable } from 'rxjs';
import { map } from 'rxjs/operators';
import type { Storage } from '../storage/types.ts';
import type { Infer, Schema } from '../wire/schema.ts';
import type { Signer, Verifier } from '../wire/sign.ts';
import type { DataType } from '../wire/types.ts';
import type { Envelope } from './channel.ts';
import type { EngineDefinition, PortSchemas } from './engine.ts';
import { Inspector } from './inspect.ts';
import { EngineInstance, type EngineStatus, type LocalClock, skewedClock } from './instance.ts';
import { seedState } from './random.ts';
import type { Lane, Scheduler } from './scheduler.ts';
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from './supervision.ts';

export interface InPort<T> {
  readonly dir: 'in';
  readonly engine: string;
  readonly port: string;
  readonly schema: Schema<T>;
}

export interface OutPort<T> {
  readonly dir: 'out';
  readonly engine: string;
  readonly port: string;
  readonly schema: Schema<T>;
}

export interface EngineHandle<I extends PortSchemas, O extends PortSchemas> {
  readonly name: string;
  readonly in: { readonly [K in keyof I]: InPort<Infer<I[K]>> };
  readonly out: { readonly [K in keyof O]: OutPort<Infer<O[K]>> };
}

export interface GraphOptions {
  node: string;
  scheduler: Scheduler;
  inspector?: Inspector;
  /** Seeds every engine's PRNG (derived per node and engine). */
  seed?: number | string;
  restartPolicy?: RestartPolicy;
  /** The node's durable storage, handed to engines that declare `needsStorage`. */
  storage?: Storage;
  /** The node's signer and the network's verifier, handed to engines through their host. */
  signer?: Signer;
  verify?: Verifier;
  /** Clock skew of this node (simulation): local = global * rate + offset. */
  skew?: { offset: number; rate: number };
  /**
   * Deep-freeze each engine's context after every step (engines declaring an immutable context):
   * a step that writes into its context in place throws, and is rolled back like any crash.
   * On in the simulator; off live, where it would only cost time.
   */
  freezeContexts?: boolean;
}

export interface PortDescription {
  name: string;
  schema: string;
  type: unknown;
}

export interface EngineDescription {
  name: string;
  definition: string;
  status: EngineStatus;
  state: string;
  restarts: number;
  processed: number;
  mailbox: number;
  inputs: PortDescription[];
  outputs: PortDescription[];
  /** The XState machine definition (`machine.toJSON()`), for statecharts. */
  machine: unknown;
}

export interface EdgeDescription {
  from: { engine: string; port: string };
  to: { engine: string; port: string };
}

export interface GraphDescription {
  node: string;
  engines: EngineDescription[];
  edges: EdgeDescription[];
}

/** JSON-safe form of a wire DataType (bigints become decimal strings). */
export function dataTypeToJSON(t: DataType): unknown {
  return JSON.parse(JSON.stringify(t, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

function sameType(a: DataType, b: DataType): boolean {
  return JSON.stringify(dataTypeToJSON(a)) === JSON.stringify(dataTypeToJSON(b));
}

export class EngineGraph {
  readonly node: string;
  readonly scheduler: Scheduler;
  readonly inspector: Inspector;
  private readonly engines = new Map<string, EngineInstance>();
  private readonly edges: EdgeDescription[] = [];
  private readonly externalLanes = new Map<string, Lane>();
  /** Per input port handle (a caller's handle is usually the same object) and sender: its lane. */
  private readonly externalByPort = new WeakMap<
    object,
    Map<string, { lane: Lane; label: string; target: EngineInstance }>
  >();
  private started = false;
  readonly clock: LocalClock;

  constructor(private readonly opts: GraphOptions) {
    this.node = opts.node;
    this.scheduler = opts.scheduler;
    this.inspector = opts.inspector ?? new Inspector();
    this.clock = skewedClock(opts.scheduler, opts.skew?.offset ?? 0, opts.skew?.rate ?? 1);
  }

  add<I extends PortSchemas, O extends PortSchemas, C>(
    name: string,
    definition: EngineDefinition<I, O, C>,
    ...config: undefined extends C ? [config?: C] : [config: C]
  ): EngineHandle<I, O> {
    if (this.started) throw new Error(`graph ${this.node}: cannot add engine "${name}" after start`);
    if (this.engines.has(name)) throw new Error(`graph ${this.node}: engine "${name}" already exists`);
    if (definition.needsStorage === true && this.opts.storage === undefined) {
      throw new Error(`graph ${this.node}: engine "${name}" needs storage but the graph has none`);
    }
    const instance = new EngineInstance({
      node: this.node,
      clock: this.clock,
      name,
      definition: definition as unknown as EngineDefinition<PortSchemas, PortSchemas, unknown>,
      config: config[0],
      seed: seedState(this.opts.seed ?? 0, this.node, name),
      scheduler: this.scheduler,
      inspector: this.inspector,
      host: {
        node: this.node,
        engine: name,
        storage: definition.needsStorage === false ? undefined : this.opts.storage,
        signer: this.opts.signer,
        verify: this.opts.verify,
      },
      freezeContext: this.opts.freezeContexts === true && definition.immutableContext,
      policy: this.opts.restartPolicy ?? DEFAULT_RESTART_POLICY,
    });
    this.engines.set(name, instance);
    const inPorts: Record<string, InPort<unknown>> = {};
    for (const [port, schema] of Object.entries(definition.inputs)) {
      inPorts[port] = { dir: 'in', engine: name, port, schema };
    }
    const outPorts: Record<string, OutPort<unknown>> = {};
    for (const [port, schema] of Object.entries(definition.outputs)) {
      outPorts[port] = { dir: 'out', engine: name, port, schema };
    }
    return { name, in: inPorts, out: outPorts } as unknown as EngineHandle<I, O>;
  }

  /** Connects an output port to an input port; messages keep their order on each connection. */
  connect<T>(from: OutPort<T>, to: InPort<T>): void {
    const source = this.instance(from.engine);
    const target = this.instance(to.engine);
    if (!sameType(from.schema.type, to.schema.type)) {
      throw new Error(
        `graph ${this.node}: ${from.engine}.${from.port} (${from.schema.name}) and ${to.engine}.${to.port} (${to.schema.name}) carry different wire types`,
      );
    }
    const channel = source.outputs.get(from.port);
    if (channel === undefined)
      throw new Error(`graph ${this.node}: ${from.engine} has no output "${from.port}"`);
    const lane = this.scheduler.lane(`${this.node}/${from.engine}.${from.port}->${to.engine}.${to.port}`);
    channel.envelopes$.subscribe((envelope) => {
      target.accepted();
      lane.push(() => target.deliver(to.port, envelope));
    });
    this.edges.push({
      from: { engine: from.engine, port: from.port },
      to: { engine: to.engine, port: to.port },
    });
  }

  /** Puts a message into an engine's mailbox from outside the graph (client, network, test). */
  send<T>(to: InPort<T>, msg: T, from = 'external', lamport = 0): void {
    // the lane and sender label of (port, sender), found without building strings per message
    let byFrom = this.externalByPort.get(to);
    if (byFrom === undefined) {
      byFrom = new Map();
      this.externalByPort.set(to, byFrom);
    }
    let way = byFrom.get(from);
    if (way === undefined) {
      const key = `${from}->${to.engine}.${to.port}`;
      let lane = this.externalLanes.get(key);
      if (lane === undefined) {
        lane = this.scheduler.lane(`${this.node}/${key}`);
        this.externalLanes.set(key, lane);
      }
      way = { lane, label: `external:${from}`, target: this.instance(to.engine) };
      byFrom.set(from, way);
    }
    const target = way.target;
    target.accepted();
    const envelope: Envelope<unknown> = { msg, from: way.label, lamport };
    way.lane.push(() => target.deliver(to.port, envelope));
  }

  /** Messages leaving an output port (e.g. to a network link or a test). */
  observe<T>(from: OutPort<T>): Observable<T> {
    return this.envelopes(from).pipe(map((e) => e.msg));
  }

  envelopes<T>(from: OutPort<T>): Observable<Envelope<T>> {
    const channel = this.instance(from.engine).outputs.get(from.port);
    if (channel === undefined)
      throw new Error(`graph ${this.node}: ${from.engine} has no output "${from.port}"`);
    return channel.envelopes$ as Observable<Envelope<T>>;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const e of this.engines.values()) e.start();
  }

  stop(): void {
    for (const e of this.engines.values()) e.stop();
  }

  instance(name: string): EngineInstance {
    const e = this.engines.get(name);
    if (e === undefined) throw new Error(`graph ${this.node}: no engine named "${name}"`);
    return e;
  }

  engineNames(): string[] {
    return [...this.engines.keys()];
  }

  describe(): GraphDescription {
    const ports = (schemas: PortSchemas): PortDescription[] =>
      Object.entries(schemas).map(([name, schema]) => ({
        name,
        schema: schema.name,
        type: dataTypeToJSON(schema.type),
      }));
    return {
      node: this.node,
      engines: [...this.engines.values()].map((e) => ({
        name: e.name,
        definition: e.definition.name,
        status: e.status,
        state: e.stateString(),
        restarts: e.restarts,
        processed: e.processed,
        mailbox: e.mailboxDepth,
        inputs: ports(e.definition.inputs),
        outputs: ports(e.definition.outputs),
        machine: e.machine.toJSON(),
      })),
      edges: this.edges.map((x) => ({ from: { ...x.from }, to: { ...x.to } })),
    };
  }
}
