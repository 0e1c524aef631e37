import { describe, expect, it } from 'vitest';
import { assert, InvariantError, present } from './assert.ts';

describe('assert', () => {
  it('passes when the condition holds and throws a named InvariantError when not', () => {
    expect(() => assert(1 + 1 === 2, 'arithmetic')).not.toThrow();
    expect(() => assert(false, 'the lock survives a restart')).toThrow(
      new InvariantError('the lock survives a restart'),
    );
    expect(() => assert(0, 'zero is falsy')).toThrow(/invariant broken: zero is falsy/);
  });

  it('present: the value when there, an InvariantError naming it when undefined or null', () => {
    expect(present(0, 'zero')).toBe(0);
    expect(present('', 'empty')).toBe('');
    expect(() => present(undefined, 'the block at height 3')).toThrow(/the block at height 3 is missing/);
    expect(() => present(null, 'x')).toThrow(InvariantError);
  });
});
