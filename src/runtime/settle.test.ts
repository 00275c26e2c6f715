import { describe, expect, it } from 'vitest';
import { settleAll } from './settle.ts';

describe('settleAll', () => {
  it('returns every value in order', async () => {
    expect(await settleAll([Promise.resolve(1), Promise.resolve(2)])).toEqual([1, 2]);
  });

  it('lets every call finish before it throws the first failure', async () => {
    let finished = false;
    const slow = new Promise<number>((resolve) =>
      setTimeout(() => {
        finished = true;
        resolve(2);
      }, 20),
    );
    await expect(settleAll([Promise.reject(new Error('first')), slow])).rejects.toThrow('first');
    expect(finished).toBe(true);
  });
});
