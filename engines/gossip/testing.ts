/** Helpers for the gossip engine's tests, properties and benchmark: intent bodies and filters. */
import type { Attribute, Filter, IntentBody } from './messages.ts';

export interface BodySpec {
  readonly topic?: string;
  readonly pair?: string;
  readonly size?: bigint;
  readonly expiry?: bigint;
  readonly expiresAt?: bigint | null;
  readonly fee?: bigint | null;
  readonly maxHops?: number;
  readonly inputs?: readonly Uint8Array[];
  /** makes otherwise equal intents distinct */
  readonly nonce?: number;
  readonly payloadBytes?: number;
}

export const SWAP = 'swap/v1';

/** A swap-like intent body: topic `swap/v1`, attributes `pair` and `size`, an opaque payload. */
export function intentBody(spec: BodySpec = {}): IntentBody {
  const attributes: Attribute[] = [];
  if (spec.pair !== undefined) attributes.push({ key: 'pair', value: { tag: 'text', value: spec.pair } });
  if (spec.size !== undefined) attributes.push({ key: 'size', value: { tag: 'num', value: spec.size } });
  const payload = new Uint8Array(spec.payloadBytes ?? 16);
  const nonce = spec.nonce ?? 0;
  for (let i = 0; i < 4 && i < payload.length; i++) payload[i] = (nonce >>> (8 * i)) & 0xff;
  return {
    topic: spec.topic ?? SWAP,
    attributes,
    inputs: [...(spec.inputs ?? [])],
    expiry: spec.expiry ?? 1_000n,
    expiresAt: spec.expiresAt ?? null,
    fee: spec.fee === undefined ? 1n : spec.fee,
    maxHops: spec.maxHops ?? 32,
    payload,
  };
}

/** A filter for `topics`, optionally one pair, optionally a least size. */
export function filterOf(topics: readonly string[], where: { pair?: string; minSize?: bigint } = {}): Filter {
  const clauses: Filter['where'] = [];
  if (where.pair !== undefined)
    clauses.push({ key: 'pair', op: { tag: 'eq', value: { tag: 'text', value: where.pair } } });
  if (where.minSize !== undefined)
    clauses.push({ key: 'size', op: { tag: 'atLeast', value: where.minSize } });
  return { topics: [...topics], where: clauses };
}
