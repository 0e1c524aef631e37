import { describe, expect, it } from 'vitest';
import type { Acknowledgement, Packet } from './packet.ts';
import { planChannel } from './relay-plan.ts';

const packet = (sequence: bigint, timeoutHeight: bigint): Packet => ({
  sequence,
  sourcePort: 'transfer',
  sourceChannel: 'channel-0',
  destinationPort: 'transfer',
  destinationChannel: 'channel-1',
  data: Uint8Array.of(1),
  timeoutHeight,
  timeoutTimestamp: 0n,
});
const OK: Acknowledgement = { tag: 'result', value: Uint8Array.of(1) };

describe('the relay plan of one channel', () => {
  const sent = [packet(1n, 100n), packet(2n, 100n), packet(3n, 10n), packet(4n, 100n), packet(5n, 100n)];
  const plan = (over: Partial<Parameters<typeof planChannel>[0]> = {}) =>
    planChannel({
      source: { height: 20n, time: 1000n },
      destination: { height: 10n, time: 500n },
      sent,
      // 5 was answered already
      committed: (s) => s !== 5n,
      received: (s) => s === 1n || s === 2n,
      // 2 is received, its acknowledgement not written yet (an asynchronous one)
      acknowledgement: (s) => (s === 1n ? OK : undefined),
      batch: 10,
      ...over,
    });

  it('acknowledges, delivers and times out from state; nothing for answered packets', () => {
    const p = plan();
    expect(p.acknowledge.map((x) => x.packet.sequence)).toEqual([1n]);
    expect(p.deliver.map((x) => x.sequence)).toEqual([4n]);
    // the destination is at height 10: packet 3 (timeout height 10) can never be received
    expect(p.timeout.map((x) => x.sequence)).toEqual([3n]);
  });

  it('delivers while the destination can still receive, and keeps to the batch limit', () => {
    const p = plan({ destination: { height: 9n, time: 400n }, batch: 1 });
    expect(p.deliver.map((x) => x.sequence)).toEqual([3n]);
    expect(p.timeout).toEqual([]);
  });
});
