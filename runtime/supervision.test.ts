import { describe, expect, it } from 'vitest';
import { clearDeadline, diffDeadlines, setDeadline } from './deadlines.ts';
import { decideRestart } from './supervision.ts';

describe('restart policy', () => {
  const policy = { maxRestarts: 2, withinMs: 100 };
  it('allows maxRestarts within the window, then refuses', () => {
    let h: number[] = [];
    const a = decideRestart(h, 0, policy);
    expect(a.restart).toBe(true);
    h = a.history;
    const b = decideRestart(h, 10, policy);
    expect(b.restart).toBe(true);
    h = b.history;
    expect(decideRestart(h, 20, policy).restart).toBe(false);
  });
  it('forgets restarts older than the window', () => {
    const d = decideRestart([0, 10], 150, policy);
    expect(d.restart).toBe(true);
    expect(d.history).toEqual([150]);
  });
});

describe('deadlines', () => {
  it('set and clear are pure', () => {
    const a = setDeadline(undefined, 'x', 5);
    const b = setDeadline(a, 'y', 7);
    expect(a).toEqual({ x: 5 });
    expect(clearDeadline(b, 'x')).toEqual({ y: 7 });
    expect(b).toEqual({ x: 5, y: 7 });
  });
  it('diff arms new and changed, cancels removed and changed', () => {
    const armed = new Map([
      ['keep', 1],
      ['move', 2],
      ['gone', 3],
    ]);
    const changes = diffDeadlines(armed, { keep: 1, move: 4, fresh: 5 });
    expect(changes).toEqual([
      { op: 'cancel', name: 'move', at: 2 },
      { op: 'cancel', name: 'gone', at: 3 },
      { op: 'arm', name: 'fresh', at: 5 },
      { op: 'arm', name: 'move', at: 4 },
    ]);
  });
});
