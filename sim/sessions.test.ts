import { describe, expect, it } from 'vitest';
import { Inspector } from '../runtime/inspect.ts';
import { Random } from '../runtime/random.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { toHex } from '../wire/commit.ts';
import type { Signer } from '../wire/sign.ts';
import { type FaultPlan, NO_FAULTS } from './faults.ts';
import { SimSessions } from './sessions.ts';
import { SimKeyring } from './signer.ts';

const NODES = ['a', 'b', 'c'];

function setup(plan: FaultPlan, seed = 1) {
  const scheduler = new SimScheduler(seed);
  const keyring = new SimKeyring();
  const signers = new Map<string, Signer>(NODES.map((n) => [n, keyring.signer(`sessions-test/${n}`)]));
  const inspector = new Inspector({ trace: true });
  const states: string[] = [];
  inspector.events$.subscribe((e) => {
    if (e.kind === 'transition') states.push(`${e.node} ${e.engine} ${e.event} ${e.from}->${e.to}`);
  });
  const net = new SimSessions(scheduler, new Random(`sessions-test:${seed}`), plan, {
    nodes: () => NODES,
    signerOf: (n) => signers.get(n)!,
    verify: keyring.verify,
    inspector,
    options: { banMs: 2_000 },
  });
  const inbox: Record<string, string[]> = { a: [], b: [], c: [] };
  const attach = (n: string) => net.attach(n, (from, bytes) => inbox[n]!.push(`${from}:${bytes[0]}`));
  for (const n of NODES) attach(n);
  const key = (n: string) => toHex(signers.get(n)!.publicKey);
  const connected = (x: string, y: string) =>
    net.sessions(x).includes(key(y)) && net.sessions(y).includes(key(x));
  const run = (until: number) => scheduler.run({ maxTime: until });
  return { scheduler, net, inbox, attach, key, connected, run, states, inspector };
}

describe('simulated peer sessions', () => {
  it('every pair gets one session; frames ride on it in order, once each, whatever the links do', () => {
    const { net, inbox, connected, run } = setup({
      ...NO_FAULTS,
      links: { drop: 0.3, duplicate: 0.3, minDelay: 1, maxDelay: 50 },
    });
    run(3_000);
    for (const [x, y] of [
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'c'],
    ] as const)
      expect(connected(x, y), `${x}-${y}`).toBe(true);
    for (const n of NODES) expect(net.sessions(n)).toHaveLength(2);
    for (let i = 0; i < 100; i++) net.send('a', 'b', Uint8Array.of(i));
    net.broadcast('c', Uint8Array.of(200));
    run(6_000);
    expect(inbox.b!.filter((m) => m.startsWith('a:'))).toEqual(
      Array.from({ length: 100 }, (_, i) => `a:${i}`),
    );
    expect(inbox.a).toEqual(['c:200']);
    expect(inbox.b!.filter((m) => m.startsWith('c:'))).toEqual(['c:200']);
    expect(net.stats.dropped).toBe(0);
  });

  it('a frame for a peer without a session is dropped and counted', () => {
    const { net, inbox, run } = setup(NO_FAULTS);
    net.send('a', 'b', Uint8Array.of(1)); // before any session is up
    expect(net.stats.dropped).toBe(1);
    run(1_000);
    expect(inbox.b).toEqual([]);
  });

  it('a short partition holds frames until it heals; a long one ends the sessions, which come back after', () => {
    const short = setup({
      ...NO_FAULTS,
      partitions: [{ from: 1_000, until: 1_500, groups: [['a'], ['b', 'c']] }],
    });
    short.run(900);
    expect(short.connected('a', 'b')).toBe(true);
    short.run(1_100);
    short.net.send('a', 'b', Uint8Array.of(7));
    short.run(1_400);
    expect(short.inbox.b).toEqual([]);
    short.run(1_700);
    expect(short.inbox.b).toEqual(['a:7']);
    expect(short.connected('a', 'b')).toBe(true);

    const long = setup({
      ...NO_FAULTS,
      partitions: [{ from: 1_000, until: 5_000, groups: [['a'], ['b', 'c']] }],
    });
    long.run(4_900);
    expect(long.net.sessions('a')).toEqual([]);
    expect(long.connected('b', 'c')).toBe(true);
    long.run(8_000);
    expect(long.connected('a', 'b') && long.connected('a', 'c')).toBe(true);
    // the sessions timed out, backed off while the dials failed, and came back through the handshake
    const a = long.states.filter((s) => s.startsWith('a '));
    expect(a.filter((s) => s.includes(' ping-due open->')).length).toBe(2);
    expect(a.some((s) => s.includes(' handshake-timeout dialing->backoff'))).toBe(true);
    expect(a.filter((s) => s.includes('->open')).length).toBeGreaterThanOrEqual(4);
  });

  it("a crashed node's connections are reset; its peers redial it with backoff and reconnect once it is back", () => {
    const { net, attach, connected, run, states } = setup(NO_FAULTS);
    run(1_000);
    expect(connected('a', 'c')).toBe(true);
    net.detach('c');
    run(1_050);
    expect(net.sessions('a')).toHaveLength(1);
    expect(net.sessions('b')).toHaveLength(1);
    const dials = () => states.filter((s) => s.startsWith('a peer:out:c') && s.endsWith('->dialing')).length;
    const before = dials();
    run(2_500);
    // refused while c is down (reset at once, not timed out): redialled, backing off
    expect(dials()).toBeGreaterThan(before + 1);
    expect(states.some((s) => s.startsWith('a peer:out:c socket-closed dialing->backoff'))).toBe(true);
    expect(states.some((s) => s.startsWith('a peer:out:c handshake-timeout'))).toBe(false);
    attach('c');
    run(5_000);
    expect(connected('a', 'c') && connected('b', 'c')).toBe(true);
  });

  it('proven misbehaviour bans the peer: its session ends, it is refused while the ban lasts, then let back in', () => {
    const { net, connected, run, key } = setup(NO_FAULTS);
    run(1_000);
    expect(connected('a', 'b')).toBe(true);
    for (let i = 0; i < 5; i++) net.penalise('a', 'b', 'bad-signature');
    run(1_100);
    expect(net.sessions('a')).not.toContain(key('b'));
    expect(net.machines('a').find((m) => m.where === 'b')?.state).toBe('banned');
    // a penalty that proves nothing costs nothing
    for (let i = 0; i < 10; i++) net.penalise('a', 'c', 'far-future');
    run(2_500);
    expect(net.sessions('a')).not.toContain(key('b'));
    expect(connected('a', 'c')).toBe(true);
    run(6_000);
    expect(connected('a', 'b')).toBe(true);
  });

  it('is deterministic: the same seed gives the same session trace, another seed another', () => {
    const trace = (seed: number) => {
      const s = setup({ ...NO_FAULTS, links: { drop: 0.2, duplicate: 0, minDelay: 1, maxDelay: 40 } }, seed);
      s.run(2_000);
      return s.inspector.traceHash();
    };
    expect(trace(3)).toBe(trace(3));
    expect(trace(3)).not.toBe(trace(4));
  });
});
