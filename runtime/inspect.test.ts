import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { encode } from '../wire/schema.ts';
import {
  encodeInspectEvent,
  type InspectEvent,
  InspectEventWire,
  Inspector,
  inspectEventWire,
} from './inspect.ts';

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

/** Numbers as events carry them, and the ones they must never carry (the codec refuses those). */
const anyNumber = fc.oneof(
  fc.nat({ max: 10_000 }),
  fc.double({ min: 0, max: 1e9, noNaN: true }),
  fc.constantFrom(
    0,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 64,
    2 ** 70,
    -1,
    -0.4,
    0.5,
    Number.NaN,
    Infinity,
  ),
);
const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));
const common = fc.record({ at: anyNumber, node: text, lamport: anyNumber, engine: text });
const anyEvent: fc.Arbitrary<InspectEvent> = fc
  .oneof(
    fc.record({
      kind: fc.constant('deliver' as const),
      port: text,
      from: text,
      sent: anyNumber,
      msg: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant('transition' as const), event: text, from: text, to: text }),
    fc.record({ kind: fc.constant('emit' as const), port: text }),
    fc.record({
      kind: fc.constant('timer' as const),
      op: fc.constantFrom('arm' as const, 'fire' as const, 'cancel' as const),
      name: text,
      deadline: anyNumber,
    }),
    fc.record({ kind: fc.constant('crash' as const), error: text }),
    fc.record({ kind: fc.constant('restart' as const), restarts: anyNumber }),
    fc.record({ kind: fc.constant('failed' as const), reason: text }),
    fc.record({ kind: fc.constant('drop' as const), port: text, reason: text }),
    fc.record({ kind: fc.constantFrom('start' as const, 'stop' as const) }),
  )
  .chain((variant) => common.map((c) => ({ ...c, ...variant }) as InspectEvent));

/** The bytes an encoder gives, or 'throws'. */
function outcome(f: () => Uint8Array): Uint8Array | 'throws' {
  try {
    return f();
  } catch {
    return 'throws';
  }
}

describe('the trace encoder', () => {
  it('writes every event byte for byte as the codec encodes its wire value, and refuses what the codec refuses', () => {
    let refused = 0;
    fc.assert(
      fc.property(anyEvent, (e) => {
        const reference = outcome(() => encode(InspectEventWire, inspectEventWire(e)));
        if (reference === 'throws') refused++;
        expect(outcome(() => encodeInspectEvent(e))).toEqual(reference);
      }),
      propParams('runtime.inspect-encoder', 500),
    );
    // the edge numbers (negative, fractional, past 2^64, NaN) must have been tried
    expect(refused).toBeGreaterThan(0);
  });

  it('hashes an event it cannot encode as its kind, and carries on', () => {
    const inspector = new Inspector({ trace: true });
    inspector.record({ kind: 'restart', at: 1, node: 'n', engine: 'e', restarts: -1 });
    expect(inspector.unencodable).toBe(1);
    const reference = createHash('sha256').update('unencodable:restart').digest('hex');
    expect(inspector.traceHash()).toBe(reference);
  });
});
