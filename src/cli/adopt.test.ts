import { describe, expect, it } from 'vitest';
import { literalField } from './adopt.ts';

describe('which field nhictl adopt takes the literal from', () => {
  it.each([
    [{ env: 'DB_PASSWORD' }, { env: 'DB_PASSWORD' }],
    [{ arg: '2' }, { list: 'args', index: 2 }],
    [{ arg: 'args[2]' }, { list: 'args', index: 2 }],
    [{ command: '0' }, { list: 'command', index: 0 }],
  ])('%o names %o', (options, field) => {
    expect(literalField(options)).toEqual(field);
  });

  it.each([
    [{}, /exactly one of --env VAR, --arg INDEX or --command INDEX \(got none\)/],
    [{ env: 'X', arg: '1' }, /got --env, --arg/],
    [{ arg: '--token' }, /--arg takes the argument's index as the scan prints it/],
    [{ command: '-1' }, /--command takes/],
  ])('refuses %o', (options, message) => {
    expect(() => literalField(options)).toThrow(message);
  });
});
