import { describe, expect, it } from 'vitest';
import { pairOf, ringOf } from './intents-view.ts';

describe('the intents view', () => {
  const t = (a: string, b: string) => `swap/v1/${a}/${b}`;
  it('names a pair by its assets, and a solution by the ring it closes', () => {
    expect(pairOf(t('aaaaaaaa', 'bbbbbbbb'))).toBe('aaaa→bbbb');
    expect(pairOf('other/topic')).toBe('other/topic');
    expect(ringOf([t('aaaa', 'bbbb'), t('bbbb', 'cccc'), t('cccc', 'aaaa')])).toBe('aaaa→bbbb→cccc→aaaa');
    // two rings in one batch, in any order
    expect(ringOf([t('aaaa', 'bbbb'), t('cccc', 'dddd'), t('bbbb', 'aaaa'), t('dddd', 'cccc')])).toBe(
      'aaaa→bbbb→aaaa; cccc→dddd→cccc',
    );
    // pairs that close no ring stay as far as they chain; other topics as they are
    expect(ringOf([t('aaaa', 'bbbb'), 'other'])).toBe('aaaa→bbbb; other');
  });
});
