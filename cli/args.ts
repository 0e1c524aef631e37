/** Argument parsers shared by the CLI's subcommands: a bad value says what was expected. */
import { InvalidArgumentError } from 'commander';

export function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
    }
    return n;
  };
}

export function hexArg(name: string, bytes: number) {
  return (raw: string): string => {
    const v = raw.startsWith('0x') ? raw.slice(2) : raw;
    if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) {
      throw new InvalidArgumentError(`${name} must be ${bytes} bytes of hex, got "${raw}"`);
    }
    return v.toLowerCase();
  };
}

export function amountArg(name: string) {
  return (raw: string): bigint => {
    if (!/^[0-9]{1,19}$/.test(raw) || BigInt(raw) === 0n || BigInt(raw) >= 1n << 64n) {
      throw new InvalidArgumentError(`${name} must be a positive 64-bit integer, got "${raw}"`);
    }
    return BigInt(raw);
  };
}

/** A finite number above 0 and at most `max` (a rate, which may be fractional). */
export function positiveArg(name: string, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`${name} must be a number above 0 and at most ${max}, got "${raw}"`);
    }
    return n;
  };
}

export function fractionArg(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      throw new InvalidArgumentError(`${name} must be a number from 0 to 1, got "${raw}"`);
    }
    return n;
  };
}
