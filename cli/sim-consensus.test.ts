import { describe, expect, it } from 'vitest';
import { SimNetwork } from '../sim/network.ts';
import { SimSessions } from '../sim/sessions.ts';
import { clusterFor, replayCommand, type SimConsensusOptions, simConsensus } from './sim-consensus.ts';

const base: SimConsensusOptions = {
  seed: 5,
  nodes: 4,
  byzantine: 1,
  behaviour: 'silent',
  heights: 3,
  faults: 'light',
  ed25519: false,
  replay: false,
  quiet: true,
};

describe('fractal sim --sessions', () => {
  it('runs the cluster on peer sessions, and the replay command keeps the flag', () => {
    expect(clusterFor(base).network).toBeInstanceOf(SimNetwork);
    expect(clusterFor({ ...base, sessions: true }).network).toBeInstanceOf(SimSessions);
    expect(replayCommand({ ...base, sessions: true })).toMatch(/ --sessions$/);
    expect(replayCommand(base)).not.toContain('--sessions');
    const lines: string[] = [];
    expect(simConsensus({ ...base, sessions: true }, (l) => lines.push(l))).toBe(0);
    expect(lines[0]).toContain('on peer sessions');
  });
});
