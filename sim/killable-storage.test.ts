import { describe, expect, it } from 'vitest';
import { Random } from '../runtime/random.ts';
import { isStorageError, StorageError } from '../storage/types.ts';
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

const str = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v));
const dump = (s: KillableStorage) => [...s.scan(new Uint8Array(0))].map(([a, b]) => `${str(a)}=${str(b)}`);
const puts = (...kv: [string, string][]) =>
  kv.map(([a, b]) => ({ op: 'put' as const, key: k(a), value: k(b) }));

describe('KillableStorage: torn batches', () => {
  it('a torn batch lands only its first k ops, then the process dies', () => {
    for (let tear = 0; tear <= 3; tear++) {
      const s = new KillableStorage();
      let deaths = 0;
      s.onDeath = () => deaths++;
      let seen: number | undefined;
      s.fateOf = (_key, _op, ops) => {
        seen = ops?.length;
        return { tear };
      };
      s.batch(puts(['a', '1'], ['b', '2'], ['c', '3']));
      expect(seen).toBe(3);
      expect(s.dead).toBe(true);
      expect(deaths).toBe(1);
      expect(dump(s)).toEqual(['a=1', 'b=2', 'c=3'].slice(0, tear));
    }
  });

  it('a tear of a single write is a death before it (k = 0) or after it (k >= 1)', () => {
    const a = new KillableStorage();
    a.fateOf = () => ({ tear: 0 });
    a.write(k('x'), k('1'));
    expect(a.dead).toBe(true);
    expect(a.read(k('x'))).toBeUndefined();
    const b = new KillableStorage();
    b.fateOf = () => ({ tear: 5 });
    b.write(k('x'), k('1'));
    expect(b.dead).toBe(true);
    expect(str(b.read(k('x')))).toBe('1');
  });
});

describe('KillableStorage: lost unsynced writes', () => {
  it('synced (the default): a power loss loses nothing', () => {
    const s = new KillableStorage();
    s.write(k('a'), k('1'));
    expect(s.unsynced).toBe(0);
    expect(s.loseUnsynced(new Random('x'), 'any')).toBe(0);
    expect(dump(s)).toEqual(['a=1']);
  });

  it('write-back: what was synced survives; of the rest a seed-chosen suffix is lost', () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const s = new KillableStorage();
      s.durability = 'write-back';
      s.write(k('a'), k('1'));
      s.batch(puts(['b', '1'], ['c', '1']));
      s.sync();
      s.write(k('a'), k('2')); // overwrite
      s.delete(k('b'));
      s.batch(puts(['c', '2'], ['d', '2']));
      expect(s.unsynced).toBe(3);
      const lost = s.loseUnsynced(new Random(`suffix:${seed}`), 'suffix');
      expect(s.unsynced).toBe(0);
      const state = dump(s);
      // a prefix of the unsynced writes, in order
      const prefixes = [
        ['a=1', 'b=1', 'c=1'],
        ['a=2', 'b=1', 'c=1'],
        ['a=2', 'c=1'],
        ['a=2', 'c=2', 'd=2'],
      ];
      expect(prefixes).toContainEqual(state);
      expect(prefixes.findIndex((p) => JSON.stringify(p) === JSON.stringify(state))).toBe(3 - lost);
      outcomes.add(state.join(','));
    }
    expect(outcomes.size).toBe(4);
  });

  it("write-back, 'any': any subset of the unsynced writes is lost, each batch whole", () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 60; seed++) {
      const s = new KillableStorage();
      s.durability = 'write-back';
      s.write(k('a'), k('0'));
      s.sync();
      s.write(k('a'), k('1'));
      s.write(k('b'), k('1'));
      s.batch(puts(['c', '1'], ['d', '1']));
      s.loseUnsynced(new Random(`any:${seed}`), 'any');
      const state = dump(s);
      expect(state.includes('c=1')).toBe(state.includes('d=1'));
      expect(state.includes('a=0') !== state.includes('a=1')).toBe(true);
      outcomes.add(state.join(','));
    }
    expect(outcomes.size).toBe(8);
  });

  it('the writes after a power loss are synced or lost like any others', () => {
    const s = new KillableStorage();
    s.durability = 'write-back';
    s.write(k('a'), k('1'));
    s.die();
    s.write(k('a'), k('2')); // dead: does not land
    s.loseUnsynced(new Random('r'), 'suffix');
    s.revive();
    expect(s.unsynced).toBe(0);
    s.write(k('b'), k('1'));
    expect(s.unsynced).toBe(1);
    s.sync();
    expect(s.loseUnsynced(new Random('r'))).toBe(0);
    expect(dump(s).includes('b=1')).toBe(true);
  });
});

describe('KillableStorage: corruption', () => {
  it('a flipped bit is read back as is without checksums', () => {
    const s = new KillableStorage();
    s.write(k('a'), Uint8Array.of(0b1010));
    expect(s.corrupt(k('a'), 0)).toBe(true);
    expect(s.read(k('a'))).toEqual(Uint8Array.of(0b1011));
    expect(s.corrupt(k('missing'), 0)).toBe(false);
  });

  it('with checksums a read or scan of the damaged record throws StorageError corrupt; a rewrite repairs it', () => {
    const s = new KillableStorage();
    s.checksums = true;
    s.write(k('a'), k('1'));
    s.write(k('b'), k('2'));
    s.corrupt(k('b'), 9);
    expect(s.damaged).toHaveLength(1);
    expect(str(s.read(k('a')))).toBe('1');
    expect(() => s.read(k('b'))).toThrow(StorageError);
    try {
      s.read(k('b'));
    } catch (e) {
      expect(isStorageError(e, 'corrupt')).toBe(true);
    }
    expect(() => [...s.scan(new Uint8Array(0))]).toThrow(/checksum/);
    expect([...s.scan(k('a'))]).toHaveLength(1);
    s.write(k('b'), k('3'));
    expect(s.damaged).toHaveLength(0);
    expect(str(s.read(k('b')))).toBe('3');
  });

  it('corruptRandom picks the record and bit from the seed, among the keys asked for', () => {
    const picks = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const s = new KillableStorage();
      for (const x of ['p/1', 'p/2', 'p/3', 'q/1']) s.write(k(x), k('value'));
      const key = s.corruptRandom(new Random(`c:${seed}`), k('p/'));
      expect(str(key)?.startsWith('p/')).toBe(true);
      picks.add(str(key)!);
      const again = new KillableStorage();
      for (const x of ['p/1', 'p/2', 'p/3', 'q/1']) again.write(k(x), k('value'));
      again.corruptRandom(new Random(`c:${seed}`), k('p/'));
      expect(dump(again)).toEqual(dump(s));
      expect(dump(s).filter((e) => e !== `${str(key)}=value`)).toHaveLength(4);
    }
    expect(picks.size).toBe(3);
    expect(new KillableStorage().corruptRandom(new Random(1))).toBeUndefined();
  });
});
