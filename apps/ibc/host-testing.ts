/**
 * Test model of two IBC hosts: each keeps its paths in a map, seals blocks (height, strictly
 * increasing time, a snapshot of its state after the block), and knows the other through a model
 * light client that holds the other's consensus states the relay gave it. A proof is sound by
 * construction: it checks iff the value really is (or is absent) at that path in the other's state
 * at the proof height, so a relay can lie about anything but cannot make a lie verify. Real light
 * clients and Merkle proofs replace this model in the IBC application; the handlers cannot tell.
 */
import { bytesEqual } from '../../wire/types.ts';
import {
  applyMessages,
  type Counterparty,
  type HostView,
  type IbcEvent,
  type IbcMsg,
  type Outcome,
  type PortModule,
  type ProofTarget,
} from './handlers.ts';
import type { Acknowledgement, Packet } from './packet.ts';

const enc = new TextEncoder();

/** The bytes a relay passes as a proof in the model: only what it claims, nothing that could convince. */
export const MODEL_PROOF = enc.encode('model-proof');

export class ModelHost {
  readonly state = new Map<string, Uint8Array>();
  /** the state after each sealed height */
  readonly history = new Map<bigint, ReadonlyMap<string, Uint8Array>>();
  readonly times = new Map<bigint, bigint>();
  /** sealed height */
  height = 0n;
  time: bigint;
  /** heights of the other host's consensus states this host's client holds */
  readonly known = new Set<bigint>();
  other!: ModelHost;
  readonly prefix: Uint8Array;
  readonly events: IbcEvent[] = [];
  frozen = false;

  constructor(
    readonly name: string,
    readonly clientId: string,
    readonly modules: ReadonlyMap<string, PortModule>,
    startTime = 1_000n,
  ) {
    this.prefix = enc.encode(`${name}/ibc/`);
    this.time = startTime;
    this.history.set(0n, new Map());
    this.times.set(0n, startTime);
  }

  /** The block being built: one past the sealed height, a little later. */
  view(): HostView {
    return {
      height: this.height + 1n,
      time: this.time + 1n,
      prefix: this.prefix,
      get: (path) => this.state.get(path),
    };
  }

  /** Seals the block being built, `dt` ms after the previous one (dt >= 1). */
  seal(dt = 1n): void {
    this.height += 1n;
    this.time += dt < 1n ? 1n : dt;
    this.history.set(this.height, new Map(this.state));
    this.times.set(this.height, this.time);
  }

  /** The relay updates this host's client with the other's header at `height` (it must exist). */
  learn(height: bigint): boolean {
    if (height < 1n || height > this.other.height) return false;
    this.known.add(height);
    return true;
  }

  counterparty(): Counterparty {
    const other = this.other;
    const stateAt = (at: ProofTarget, h: bigint): ReadonlyMap<string, Uint8Array> | string => {
      if (this.frozen) return 'client frozen';
      if (at.clientId !== this.clientId) return `unknown client ${at.clientId}`;
      if (!bytesEqual(at.counterpartyPrefix, other.prefix)) return 'wrong prefix';
      if (!this.known.has(h)) return `no consensus state at ${h}`;
      // a consensus state at H commits to the state after H - 1
      return other.history.get(h - 1n) ?? 'no such state';
    };
    return {
      latest: (clientId) => {
        if (this.frozen || clientId !== this.clientId || this.known.size === 0) return undefined;
        let height = 0n;
        for (const k of this.known) if (k > height) height = k;
        return { height, time: other.times.get(height)! };
      },
      consensusTime: (clientId, h) =>
        this.frozen || clientId !== this.clientId || !this.known.has(h) ? undefined : other.times.get(h),
      membership: (at, h, path, value, proof) => {
        const st = stateAt(at, h);
        if (typeof st === 'string') return st;
        if (!bytesEqual(proof, MODEL_PROOF)) return 'not a proof';
        const there = st.get(path);
        return there !== undefined && bytesEqual(there, value) ? undefined : 'value not at path';
      },
      absence: (at, h, path, proof) => {
        const st = stateAt(at, h);
        if (typeof st === 'string') return st;
        if (!bytesEqual(proof, MODEL_PROOF)) return 'not a proof';
        return st.has(path) ? 'path present' : undefined;
      },
    };
  }

  /** Runs messages in the block being built; keeps their writes and events when they succeed. */
  run(msgs: readonly IbcMsg[]): Outcome {
    const out = applyMessages(this.view(), this.counterparty(), this.modules, msgs);
    if (out.ok) {
      for (const w of out.writes) {
        if (w.value === null) this.state.delete(w.path);
        else this.state.set(w.path, w.value);
      }
      this.events.push(...out.events);
    }
    return out;
  }
}

/** Two hosts that know each other (neither's client has a consensus state yet). */
export function linkHosts(a: ModelHost, b: ModelHost): void {
  a.other = b;
  b.other = a;
}

/** A module that acknowledges with the data it got, or an error for data starting with 0. */
export const ECHO: PortModule = {
  onRecv(packet: Packet): Acknowledgement {
    return packet.data[0] === 0
      ? { tag: 'error', value: 'refused by the application' }
      : { tag: 'result', value: packet.data };
  },
};

/** Both hosts seal a block and learn each other's newest header (the relay's "update client"). */
export function tick(a: ModelHost, b: ModelHost): void {
  a.seal();
  b.seal();
  a.learn(b.height);
  b.learn(a.height);
}

/**
 * Two ticks: the block with the writes just made is sealed, then a header whose root holds them;
 * afterwards each host's newest header (`host.height`) proves everything written before.
 */
export function settle(a: ModelHost, b: ModelHost): void {
  tick(a, b);
  tick(a, b);
}

/**
 * The four-step handshakes between `a` and `b` over an honest relay: a connection, then a channel
 * on port `port` of the given ordering. Returns the channel ids on a and on b.
 */
export function openChannel(
  a: ModelHost,
  b: ModelHost,
  port: string,
  ordering: number,
): { a: string; b: string } {
  const must = (o: Outcome, what: string): readonly IbcEvent[] => {
    if (!o.ok) throw new Error(`${what}: ${o.reason}: ${o.detail}`);
    return o.events;
  };
  settle(a, b);
  const ci = must(
    a.run([
      {
        tag: 'connOpenInit',
        value: { clientId: a.clientId, counterpartyClientId: b.clientId, counterpartyPrefix: b.prefix },
      },
    ]),
    'connOpenInit',
  );
  const aConn = (ci[0] as { connectionId: string }).connectionId;
  settle(a, b);
  const ct = must(
    b.run([
      {
        tag: 'connOpenTry',
        value: {
          clientId: b.clientId,
          counterpartyClientId: a.clientId,
          counterpartyConnectionId: aConn,
          counterpartyPrefix: a.prefix,
          proofInit: MODEL_PROOF,
          proofHeight: a.height,
        },
      },
    ]),
    'connOpenTry',
  );
  const bConn = (ct[0] as { connectionId: string }).connectionId;
  settle(a, b);
  must(
    a.run([
      {
        tag: 'connOpenAck',
        value: {
          connectionId: aConn,
          counterpartyConnectionId: bConn,
          proofTry: MODEL_PROOF,
          proofHeight: b.height,
        },
      },
    ]),
    'connOpenAck',
  );
  settle(a, b);
  must(
    b.run([
      {
        tag: 'connOpenConfirm',
        value: { connectionId: bConn, proofAck: MODEL_PROOF, proofHeight: a.height },
      },
    ]),
    'connOpenConfirm',
  );
  settle(a, b);
  const oi = must(
    a.run([
      {
        tag: 'chanOpenInit',
        value: { port, connectionId: aConn, counterpartyPort: port, ordering, version: 'echo-1' },
      },
    ]),
    'chanOpenInit',
  );
  const aChan = (oi[0] as { channel: string }).channel;
  settle(a, b);
  const ot = must(
    b.run([
      {
        tag: 'chanOpenTry',
        value: {
          port,
          connectionId: bConn,
          counterpartyPort: port,
          counterpartyChannel: aChan,
          ordering,
          version: 'echo-1',
          proofInit: MODEL_PROOF,
          proofHeight: a.height,
        },
      },
    ]),
    'chanOpenTry',
  );
  const bChan = (ot[0] as { channel: string }).channel;
  settle(a, b);
  must(
    a.run([
      {
        tag: 'chanOpenAck',
        value: {
          port,
          channel: aChan,
          counterpartyChannel: bChan,
          proofTry: MODEL_PROOF,
          proofHeight: b.height,
        },
      },
    ]),
    'chanOpenAck',
  );
  settle(a, b);
  must(
    b.run([
      {
        tag: 'chanOpenConfirm',
        value: { port, channel: bChan, proofAck: MODEL_PROOF, proofHeight: a.height },
      },
    ]),
    'chanOpenConfirm',
  );
  settle(a, b);
  return { a: aChan, b: bChan };
}
