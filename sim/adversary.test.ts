/**
 * The lying behaviours really lie (a property over an adversary that never attacks proves
 * nothing), and with less than a third of the power every invariant holds against them.
 */
import { describe, expect, it } from 'vitest';
import { makeValidatorSet } from '../engines/consensus/validators.ts';
import { LYING_BEHAVIOURS, type LyingBehaviour, shortCertificate } from './adversary.ts';
import { runCluster } from './cluster.ts';
import { NO_FAULTS } from './faults.ts';
import { exceedsTwoThirds } from './quorum.ts';

/** The lies each behaviour must tell in a short run, and the penalties honest nodes must hand out. */
const EXPECTED: Record<LyingBehaviour, { lies: string[]; penalties: string[] }> = {
  'lie-valid-round': { lies: ['false-valid-round'], penalties: [] },
  forge: {
    lies: ['forged-proposal', 'forged-vote', 'forged-status'],
    penalties: ['bad-signature', 'far-future-round', 'far-future-height'],
  },
  'forge-sync': { lies: ['sync-push', 'short-last-commit'], penalties: ['bad-certificate'] },
  amnesia: { lies: ['amnesia'], penalties: [] },
  coalition: { lies: ['alternative-proposal', 'alternative-vote'], penalties: [] },
};

describe('lying Byzantine validators', () => {
  for (const behaviour of LYING_BEHAVIOURS) {
    it(`${behaviour}: tells its lies and, below a third of the power, breaks nothing`, () => {
      // an early partition forces rounds beyond 0, where a lying proposer gets its turn
      const r = runCluster({
        seed: 11,
        validators: 4,
        byzantine: 1,
        behaviour,
        heights: 8,
        plan: {
          ...NO_FAULTS,
          links: { drop: 0.05, duplicate: 0, minDelay: 1, maxDelay: 20 },
          partitions: [
            {
              from: 0,
              until: 1_500,
              groups: [
                ['n0', 'n1'],
                ['n2', 'n3'],
              ],
            },
          ],
        },
        livenessPerHeightMs: 2_000,
        trace: false,
      });
      expect(r.violations).toEqual([]);
      for (const lie of EXPECTED[behaviour].lies)
        expect(r.lies[lie] ?? 0, `${lie} in ${JSON.stringify(r.lies)}`).toBeGreaterThan(0);
      for (const p of EXPECTED[behaviour].penalties) {
        expect(r.penaltyReasons[p] ?? 0, `${p} in ${JSON.stringify(r.penaltyReasons)}`).toBeGreaterThan(0);
      }
    });
  }

  it('a short certificate is one signature short of more than two thirds', () => {
    for (const powers of [
      [1, 1, 1, 1],
      [5, 1, 1, 1, 3],
      [10, 10, 1, 7],
    ]) {
      const set = makeValidatorSet(
        powers.map((power, i) => ({ id: `v${i}`, publicKey: new Uint8Array(32).fill(i + 1), power })),
      );
      const cert = {
        height: 1n,
        round: 0,
        blockHash: new Uint8Array(32),
        signatures: set.validators.map((_, validator) => ({ validator, signature: new Uint8Array(64) })),
      };
      const short = shortCertificate(cert, set);
      const power = (sigs: readonly { validator: number }[]) =>
        BigInt(sigs.reduce((a, x) => a + set.validators[x.validator]!.power, 0));
      const total = BigInt(set.totalPower);
      expect(exceedsTwoThirds(power(short.signatures), total), `powers ${powers}`).toBe(false);
      // adding back any one signature that was dropped makes it a quorum again, for some one
      const dropped = cert.signatures.filter(
        (x) => !short.signatures.some((y) => y.validator === x.validator),
      );
      expect(
        dropped.some((d) => exceedsTwoThirds(power([...short.signatures, d]), total)),
        `powers ${powers}`,
      ).toBe(true);
    }
  });
});
