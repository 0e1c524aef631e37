/**
 * What a relay should do next on one channel, decided from the state of both ends (not only from
 * events: Hermes clears pending packets from state because event streams miss some).
 *
 * For each packet the source sent whose commitment is still there:
 * - received on the destination, with an acknowledgement there: acknowledge it on the source;
 * - not received, and it can still be received (the destination has not reached its timeout):
 *   deliver it to the destination;
 * - not received, and the destination's latest header shows it never can be: time it out on the
 *   source.
 * Packets whose commitment is gone were answered already; a relay never sends anything for them.
 */
import type { Acknowledgement, Packet } from './packet.ts';
import { timedOut } from './packet.ts';

/** One end of a channel as a relay sees it. */
export interface EndState {
  /** the newest header the relay can prove this end's state at (its root is the state after height - 1) */
  readonly height: bigint;
  /** that header's time */
  readonly time: bigint;
}

export interface ChannelState {
  readonly source: EndState;
  readonly destination: EndState;
  /** packets the source sent, by sequence (from its events or an index of them) */
  readonly sent: readonly Packet[];
  /** whether the source still holds the packet's commitment (in the state the source's header proves) */
  readonly committed: (sequence: bigint) => boolean;
  /** the acknowledgement the destination wrote for a received packet; undefined when not received */
  readonly acknowledgement: (sequence: bigint) => Acknowledgement | undefined;
  /** whether the destination received the packet (a receipt, or its receive sequence is past it) */
  readonly received: (sequence: bigint) => boolean;
  /** the most messages one transaction may carry */
  readonly batch: number;
}

export interface RelayPlan {
  /** packets to deliver to the destination */
  readonly deliver: readonly Packet[];
  /** packets to acknowledge on the source, with the destination's acknowledgement */
  readonly acknowledge: readonly { packet: Packet; acknowledgement: Acknowledgement }[];
  /** packets to time out on the source */
  readonly timeout: readonly Packet[];
}

/**
 * The plan for one channel, at most `batch` messages of each kind, oldest sequence first. A
 * packet is delivered only while the destination's next block could still receive it (the block
 * after the destination's newest header), and timed out only once that header proves it can no
 * longer be received: the state it proves is after height - 1, and a block at `height` or later
 * refuses the packet (packet.ts `timeoutProven`).
 */
export function planChannel(c: ChannelState): RelayPlan {
  const deliver: Packet[] = [];
  const acknowledge: { packet: Packet; acknowledgement: Acknowledgement }[] = [];
  const timeout: Packet[] = [];
  const pending = [...c.sent]
    .filter((p) => c.committed(p.sequence))
    .sort((x, y) => (x.sequence < y.sequence ? -1 : 1));
  for (const p of pending) {
    const ack = c.acknowledgement(p.sequence);
    if (ack !== undefined) {
      if (acknowledge.length < c.batch) acknowledge.push({ packet: p, acknowledgement: ack });
      continue;
    }
    if (c.received(p.sequence)) continue; // received without an acknowledgement yet: wait
    if (timedOut(p, c.destination.height, c.destination.time)) {
      if (timeout.length < c.batch) timeout.push(p);
    } else if (deliver.length < c.batch) deliver.push(p);
  }
  return { deliver, acknowledge, timeout };
}
