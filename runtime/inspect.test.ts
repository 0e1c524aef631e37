import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeInspectEvent, type InspectEvent, Inspector } from './inspect.ts';

describe('inspector trace hash', () => {
  it('is sha256 over the encoded events in order, however the chunks fall (events large and small)', () => {
    const inspector = new Inspector({ trace: true });
    const seen: InspectEvent[] = [];
    inspector.events$.subscribe((e) => seen.push(e));
    const reference = createHash('sha256');
    for (let i = 0; i < 3000; i++) {
      // every 500th message is larger than a chunk, the rest fill chunks unevenly
      const size = i % 500 === 499 ? 70_000 : (i * 37) % 300;
      inspector.record({
        kind: 'deliver',
        at: i,
        node: `n${i % 4}`,
        engine: 'consensus',
        port: 'net',
        from: 'peer',
        sent: i,
        msg: new Uint8Array(size).fill(i & 0xff),
      });
      if (i === 1500)
        expect(inspector.traceHash()).toBe(
          reference
            .copy()
            .update(encodeInspectEvent(seen.at(-1)!))
            .digest('hex'),
        );
      reference.update(encodeInspectEvent(seen.at(-1)!));
    }
    expect(inspector.traceHash()).toBe(reference.digest('hex'));
  });
});
