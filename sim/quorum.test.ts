/**
 * The oracle's quorum arithmetic (sim/quorum.ts) against the engine's (`quorum`,
 * `checkCertificate`): written apart, they must agree on every generated set and signer subset,
 * above all at exactly two thirds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCertificate, voteSignBytes } from '../engines/consensus/chain.ts';
import { type Certificate, VOTE_PRECOMMIT } from '../engines/consensus/messages.ts';
import { makeValidatorSet, quorum } from '../engines/consensus/validators.ts';
import { propParams } from '../props/config.ts';
import { toHex } from '../wire/commit.ts';
import { certifies, exceedsTwoThirds } from './quorum.ts';
import { SimKeyring } from './signer.ts';

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const engineSays = (signed: number, total: number) => signed >= quorum(total);

/** Powers and a subset of them (by flag), the subset summing to exactly 2/3 of the total, or one off. */
const atTwoThirds = fc
  .record({
    // the subset's powers, doubled so that half of their sum is whole
    inside: fc
      .array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 7 })
      .map((xs) => xs.map((x) => 2 * x)),
    pieces: fc.integer({ min: 1, max: 3 }),
    nudge: fc.constantFrom(-1, 0, 1),
  })
  .map(({ inside, pieces, nudge }) => {
    // the others hold half the subset's power: the subset is exactly 2/3 of the total
    const rest = sum(inside) / 2;
    const n = Math.min(pieces, rest);
    const piece = Math.floor(rest / n);
    const outside = Array.from({ length: n }, (_, k) => (k < n - 1 ? piece : rest - piece * (n - 1)));
    const last = inside.length - 1;
    // nudge the subset by one unit either way (never to 0 power)
    if (inside[last]! + nudge > 0) inside[last] = inside[last]! + nudge;
    return { inside, outside };
  });

describe('quorum arithmetic: the oracle and the engine agree', () => {
  it('on generated powers and signer subsets', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            power: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 2 ** 40 })),
            signs: fc.boolean(),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (validators) => {
          const total = sum(validators.map((v) => v.power));
          const signed = sum(validators.filter((v) => v.signs).map((v) => v.power));
          expect(exceedsTwoThirds(BigInt(signed), BigInt(total))).toBe(engineSays(signed, total));
        },
      ),
      propParams('sim.quorum.arithmetic', 1000),
    );
  });

  it('at exactly two thirds of the power and one unit either side', () => {
    let exact = 0;
    fc.assert(
      fc.property(atTwoThirds, ({ inside, outside }) => {
        const signed = sum(inside);
        const total = signed + sum(outside);
        if (3 * signed === 2 * total) exact++;
        const oracle = exceedsTwoThirds(BigInt(signed), BigInt(total));
        expect(oracle).toBe(3 * signed > 2 * total);
        expect(oracle).toBe(engineSays(signed, total));
      }),
      propParams('sim.quorum.two-thirds', 500),
    );
    expect(exact).toBeGreaterThan(0);
    // by hand: 2 of 3, 4 of 6, 20 of 30 are not a quorum; 3 of 4 and 67 of 100 are
    for (const [signed, total, want] of [
      [2, 3, false],
      [4, 6, false],
      [20, 30, false],
      [3, 4, true],
      [67, 100, true],
      [66, 100, false],
    ] as const) {
      expect(exceedsTwoThirds(BigInt(signed), BigInt(total))).toBe(want);
      expect(engineSays(signed, total)).toBe(want);
    }
  });

  it('on certificates: checkCertificate and the oracle accept the same ones', () => {
    const keyring = new SimKeyring();
    const signers = Array.from({ length: 10 }, (_, i) => keyring.signer(`quorum ${i}`));
    const chainId = 'fractal-sim';
    const hash = new Uint8Array(32).fill(7);
    const other = new Uint8Array(32).fill(8);
    const mutation = fc.constantFrom(
      'none',
      'none',
      'none',
      'duplicate',
      'bad-signature',
      'unknown',
      'other-hash',
    );
    // powers by signer, and which of them sign: random, or a subset at exactly 2/3 (or one off)
    const signing = fc.oneof(
      fc.array(fc.record({ power: fc.integer({ min: 1, max: 100 }), signs: fc.boolean() }), {
        minLength: 1,
        maxLength: 10,
      }),
      atTwoThirds
        .filter(({ inside, outside }) => inside.length + outside.length <= 10)
        .map(({ inside, outside }) => [
          ...inside.map((power) => ({ power, signs: true })),
          ...outside.map((power) => ({ power, signs: false })),
        ]),
    );
    fc.assert(
      fc.property(signing, mutation, fc.integer({ min: 0, max: 3 }), (validators, mutate, round) => {
        const set = makeValidatorSet(
          validators.map(({ power }, i) => ({
            id: toHex(signers[i]!.publicKey),
            publicKey: signers[i]!.publicKey,
            power,
          })),
        );
        const message = voteSignBytes(chainId, { type: VOTE_PRECOMMIT, height: 5n, round, blockHash: hash });
        const signatures = validators.flatMap(({ signs }, i) =>
          signs
            ? [
                {
                  validator: set.index.get(toHex(signers[i]!.publicKey))!,
                  signature: signers[i]!.sign(message),
                },
              ]
            : [],
        );
        if (mutate === 'duplicate' && signatures.length > 0) signatures.push(signatures[0]!);
        if (mutate === 'bad-signature' && signatures.length > 0)
          signatures[0] = { ...signatures[0]!, signature: new Uint8Array(64) };
        if (mutate === 'unknown')
          signatures.push({ validator: set.validators.length, signature: new Uint8Array(64) });
        const cert: Certificate = {
          height: 5n,
          round,
          blockHash: mutate === 'other-hash' ? other : hash,
          signatures,
        };
        const engine = checkCertificate(cert, 5n, hash, set, chainId, keyring.verify) === null;
        expect(certifies(cert, 5n, hash, set, chainId, keyring.verify)).toBe(engine);
      }),
      propParams('sim.quorum.certificates', 300),
    );
  });
});
