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

/** Demo asset aliases `fractal intent` accepts for the devnet's three assets (node/config.ts). */
export const ASSET_ALIASES = ['a', 'b', 'c'] as const;

/**
 * `<amount>:<asset>`: a positive 64-bit amount and an asset, as 64 hex digits or one of the demo
 * aliases a, b, c (`aliases` gives their ids, in that order).
 */
export function amountOfAssetArg(name: string, aliases: readonly string[]) {
  return (raw: string): { amount: bigint; asset: string } => {
    const m = /^([0-9]{1,19}):([0-9a-fA-F]{64}|[a-z])$/.exec(raw);
    const alias = m === null ? -1 : (ASSET_ALIASES as readonly string[]).indexOf(m[2]!);
    if (m === null || (m[2]!.length === 1 && alias < 0))
      throw new InvalidArgumentError(
        `${name} must be <amount>:<asset>, the asset as 64 hex digits or ${ASSET_ALIASES.join(', ')} (the demo assets), got "${raw}"`,
      );
    const amount = amountArg(name)(m[1]!);
    return { amount, asset: alias >= 0 ? aliases[alias]! : m[2]!.toLowerCase() };
  };
}

/** An asset: 64 hex digits, or one of the demo aliases a, b, c (`aliases` gives their ids, in that order). */
export function assetArg(name: string, aliases: readonly string[]) {
  return (raw: string): string => {
    const alias = (ASSET_ALIASES as readonly string[]).indexOf(raw);
    if (alias >= 0) return aliases[alias]!;
    if (/^[0-9a-fA-F]{64}$/.test(raw)) return raw.toLowerCase();
    throw new InvalidArgumentError(
      `${name} must be an asset: 64 hex digits, or ${ASSET_ALIASES.join(', ')} (the demo assets), got "${raw}"`,
    );
  };
}
