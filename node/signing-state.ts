/**
 * A validator's signing state file, beside its key (`<key file>.signing-state.json`): the last
 * consensus step the key signed (wire/signing-guard.ts). Written atomically (a temporary file,
 * fsynced, renamed over the old one) before the signature is returned, so a vote never leaves
 * without its step on disk. A node whose database was lost or emptied re-syncs from its peers
 * and signs again only above that step.
 *
 * With a signing log (config `signingLog`), every new consensus signature also appends one JSON
 * line `{"height","round","step","signBytes"}` (signBytes: hex sha256 of the bytes signed) once its
 * step is on disk: an audit trail a fault harness reads to prove no step was signed twice with
 * different bytes (the state file keeps only the last step).
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { consensusStepOf } from '../engines/consensus/messages.ts';
import type { Signer } from '../wire/sign.ts';
import { guardSigner, type LastSigned } from '../wire/signing-guard.ts';
import { ConfigError } from './config.ts';

export const signingStateFile = (identityKey: string): string => `${identityKey}.signing-state.json`;

function parse(file: string, text: string): LastSigned {
  const fail = (why: string): never => {
    throw new ConfigError(
      file,
      '',
      `the signing state is unreadable (${why}); it guards this key against signing twice. Restore it, or, only if this key has never signed anywhere, delete it`,
    );
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return fail((e as Error).message);
  }
  const o = v as Record<string, unknown>;
  if (o === null || typeof o !== 'object') return fail('not an object');
  const { height, round, step, signBytes, signature } = o;
  if (typeof height !== 'string' || !/^[0-9]{1,20}$/.test(height)) return fail('height');
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 0) return fail('round');
  if (step !== 0 && step !== 1 && step !== 2) return fail('step');
  if (typeof signBytes !== 'string' || !/^[0-9a-f]{64}$/.test(signBytes)) return fail('signBytes');
  if (typeof signature !== 'string' || !/^[0-9a-f]{128}$/.test(signature)) return fail('signature');
  return { height: BigInt(height), round, step, signBytes, signature };
}

/** Reads the last signed step (undefined when the key has not signed yet). */
export function readSigningState(file: string): LastSigned | undefined {
  if (!existsSync(file)) return undefined;
  return parse(file, readFileSync(file, 'utf8'));
}

function writeAtomically(file: string, text: string, fsync: boolean): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  if (fsync) {
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

/** One line of a signing log. */
export interface SigningLogEntry {
  height: bigint;
  round: number;
  step: number;
  signBytes: string;
}

/** Parses a signing log; a line that is not an entry (a torn last line after a kill) is skipped and counted. */
export function readSigningLog(text: string): { entries: SigningLogEntry[]; unreadable: number } {
  const entries: SigningLogEntry[] = [];
  let unreadable = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      const { height, round, step, signBytes } = o;
      if (
        typeof height === 'string' &&
        /^[0-9]{1,20}$/.test(height) &&
        typeof round === 'number' &&
        typeof step === 'number' &&
        typeof signBytes === 'string'
      ) {
        entries.push({ height: BigInt(height), round, step, signBytes });
        continue;
      }
    } catch {
      // counted below
    }
    unreadable++;
  }
  return { entries, unreadable };
}

/**
 * `inner` guarded by the signing state in `file`: votes and proposals are signed only above the
 * last signed step (or the same bytes again at it), and the step is on disk before the signature
 * is returned; a refusal throws SignRefusedError (consensus then sends nothing for that step).
 * Other messages (envelopes, handshakes) are signed as they come. With `log`, each new consensus
 * signature appends a line to that file after the state is written.
 */
export function guardedSigner(
  inner: Signer,
  file: string,
  opts: { fsync: boolean; log?: string },
): Signer & { last(): LastSigned | undefined } {
  let last = readSigningState(file);
  const signer = guardSigner(inner, consensusStepOf, {
    last: () => last,
    remember(next) {
      writeAtomically(
        file,
        `${JSON.stringify({ ...next, height: next.height.toString() }, null, 2)}\n`,
        opts.fsync,
      );
      last = next;
      if (opts.log !== undefined) {
        const entry = {
          height: next.height.toString(),
          round: next.round,
          step: next.step,
          signBytes: next.signBytes,
        };
        appendFileSync(opts.log, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
      }
    },
  });
  return {
    publicKey: signer.publicKey,
    sign: (msg) => signer.sign(msg),
    settle: (landed) => signer.settle?.(landed),
    last: () => last,
  };
}
