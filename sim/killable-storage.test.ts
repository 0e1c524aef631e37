import { describe, expect, it } from 'vitest';
import { KillableStorage } from './killable-storage.ts';

const k = (s: string) => new TextEncoder().encode(s);

describe('KillableStorage', () => {
  it('dies before a write: that write and every later one are lost; reads still see what landed', () => {
    const s = new KillableStorage();
    let deaths = 0;
    s.onDeath = () => deaths++;
    s.fateOf = (key) => (new TextDecoder().decode(key) === 'b' ? 'die-before' : 'lands');
    s.write(k('a'), k('1'));
    s.write(k('b'), k('2'));
    s.write(k('c'), k('3'));
    s.batch([{ op: 'put', key: k('d'), value: k('4') }]);
    s.delete(k('a'));
    expect(s.dead).toBe(true);
    expect(deaths).toBe(1);
    expect(s.read(k('a'))).toEqual(k('1'));
    expect(s.read(k('b'))).toBeUndefined();
    expect(s.read(k('c'))).toBeUndefined();
    expect(s.read(k('d'))).toBeUndefined();
  });

  it('dies after a write: that write landed, later ones did not; after revive writes land again', () => {
    const s = new KillableStorage();
    s.fateOf = (key) => (new TextDecoder().decode(key) === 'b' ? 'die-after' : 'lands');
    s.write(k('b'), k('2'));
    s.write(k('c'), k('3'));
    expect(s.dead).toBe(true);
    expect(s.read(k('b'))).toEqual(k('2'));
    expect(s.read(k('c'))).toBeUndefined();
    s.fateOf = undefined;
    s.revive();
    s.write(k('c'), k('3'));
    expect(s.read(k('c'))).toEqual(k('3'));
  });

  it('a batch lands whole or not at all', () => {
    const s = new KillableStorage();
    s.fateOf = () => 'die-before';
    s.batch([
      { op: 'put', key: k('x'), value: k('1') },
      { op: 'put', key: k('y'), value: k('2') },
    ]);
    expect(s.read(k('x'))).toBeUndefined();
    expect(s.read(k('y'))).toBeUndefined();
  });
});
