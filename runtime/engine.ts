/**
 * The engine contract: a name, an XState v5 machine, and typed input and output ports.
 *
 * - Inputs arrive as events `{ type: <input port>, msg, now, from }`, one at a time (mailbox).
 * - Outputs leave through XState's `emit({ type: <output port>, msg })`.
 * - Timers are `context.deadlines` (see deadlines.ts) and arrive as `{ type: 'timeout', name, now }`.
 * - Time arrives on every event (`now`); randomness is a `PrngState` handed in as input (`seed`) and
 *   kept in context. Nothing else of the outside world reaches an engine except through `EngineHost`.
 */
import type { AnyStateMachine } from 'xstate';
import type { BatchOp, Storage } from '../storage/types.ts';
import type { Infer, Schema } from '../wire/schema.ts';
import type { Signer, Verifier } from '../wire/sign.ts';
import type { PrngState } from './random.ts';

export type PortSchemas = Readonly<Record<string, Schema<unknown>>>;

/** The event a machine receives on input port K. */
export type PortEvent<I extends PortSchemas> = {
  [K in keyof I & string]: { type: K; msg: Infer<I[K]>; now: number; from: string };
}[keyof I & string];

export interface TimeoutEvent {
  type: 'timeout';
  name: string;
  now: number;
}

/** Every event an engine with inputs I can receive. */
export type EngineEvent<I extends PortSchemas> = PortEvent<I> | TimeoutEvent;

/** What an engine with outputs O may emit. */
export type EngineEmitted<O extends PortSchemas> = {
  [K in keyof O & string]: { type: K; msg: Infer<O[K]> };
}[keyof O & string];

/** The emitted type of a write effect (a reserved name: no port may be called so). */
export const PERSIST = 'persist';

/**
 * A write an engine asks for, as a value: the runtime applies the ops of every write effect of a
 * step in one atomic batch on the engine's storage, after the step succeeded and before any of
 * its messages leave (a logged block, a WAL entry, is durable before what it guards is sent). If
 * the batch fails, the step fails as a whole: nothing is emitted and the engine restarts from the
 * context before it. Engines read their storage directly (reads are deterministic given the
 * store) but never write it themselves.
 */
export interface PersistEffect {
  type: typeof PERSIST;
  ops: readonly BatchOp[];
}

/** What an engine's machine may emit: a message on one of its output ports, or a write. */
export type EngineEffect<O extends PortSchemas> = EngineEmitted<O> | PersistEffect;

/** The XState `input` every engine machine is created with. */
export interface EngineInput<C> {
  config: C;
  seed: PrngState;
  now: number;
}

/** Capabilities the runtime hands to an engine's machine factory (never read directly by engines). */
export interface EngineHost {
  readonly node: string;
  readonly engine: string;
  /** Durable storage owned by this node, if the engine declared that it needs it. */
  readonly storage: Storage | undefined;
  /** The node's signing key (ed25519 live; a keyed-hash stand-in may be used in simulation). */
  readonly signer: Signer | undefined;
  /** Signature verification matching the signers of the network. */
  readonly verify: Verifier | undefined;
}

export interface EngineDefinition<
  I extends PortSchemas = PortSchemas,
  O extends PortSchemas = PortSchemas,
  C = unknown,
> {
  readonly name: string;
  readonly inputs: I;
  readonly outputs: O;
  /** The machine, or a factory given the host's capabilities (storage for a WAL, for instance). */
  readonly machine: AnyStateMachine | ((host: EngineHost) => AnyStateMachine);
  /** true: the graph must have storage; 'optional': given when the graph has it; false: never given */
  readonly needsStorage: boolean | 'optional';
  /**
   * Machines the engine's pure core runs inside its steps (consensus: the round machine), by
   * name, so that their statecharts are drawn with the engine's.
   */
  readonly parts: Readonly<Record<string, AnyStateMachine>>;
  /**
   * The machine's context holds no mutable objects: every step builds a new context. A graph
   * in frozen mode (the simulator, tests) deep-freezes it after each step, so that a write in
   * place fails loudly. Engines still moving to that shape say false.
   */
  readonly immutableContext: boolean;
  /** Phantom: the config type. */
  readonly __config?: C;
}

const RESERVED_PORTS = new Set(['timeout', PERSIST]);

export function defineEngine<I extends PortSchemas, O extends PortSchemas, C = undefined>(spec: {
  name: string;
  inputs: I;
  outputs: O;
  machine: AnyStateMachine | ((host: EngineHost) => AnyStateMachine);
  needsStorage?: boolean | 'optional';
  parts?: Readonly<Record<string, AnyStateMachine>>;
  immutableContext?: boolean;
}): EngineDefinition<I, O, C> {
  if (!/^[a-z][a-z0-9-]*$/.test(spec.name)) {
    throw new Error(`defineEngine: name ${JSON.stringify(spec.name)} must be lower-case kebab`);
  }
  for (const port of [...Object.keys(spec.inputs), ...Object.keys(spec.outputs)]) {
    if (RESERVED_PORTS.has(port))
      throw new Error(`defineEngine(${spec.name}): port name "${port}" is reserved`);
  }
  return {
    name: spec.name,
    inputs: spec.inputs,
    outputs: spec.outputs,
    machine: spec.machine,
    needsStorage: spec.needsStorage ?? false,
    parts: spec.parts ?? {},
    immutableContext: spec.immutableContext ?? true,
  };
}

/** Resolves a definition's machine for a host (or for description only, with no storage). */
export function machineOf(
  def: EngineDefinition<PortSchemas, PortSchemas, unknown>,
  host: EngineHost,
): AnyStateMachine {
  return typeof def.machine === 'function' ? def.machine(host) : def.machine;
}

/** Flattens an XState state value to a dotted path string, e.g. `{ round: 'prevote' }` -> `round.prevote`. */
export function stateToString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) => {
      const inner = stateToString(v);
      return inner === '' ? k : `${k}.${inner}`;
    });
    return parts.length === 1 ? parts[0]! : `(${parts.join('|')})`;
  }
  return '';
}
