/**
 * IBC state as seed-002 notes (README.md, "State as notes").
 *
 * Every ICS-24 path's value is one note of the IBC host application: provenance empty, application
 * and owner both the host predicate's commitment, key `objectKey(path, version)`, value the path's
 * value. Notes are immutable and a consumed key never returns, so a path's value changes by
 * consuming its note and creating the next version: the first version of every path is 0 and each
 * write is one more. That makes absence checkable without reading state: a transaction that claims
 * a path is absent writes it at version 0, and the executor refuses to create a note whose key
 * exists or was ever spent.
 *
 * The counterparty proves a path through the note's state key: `stateKey(prefix, path, version)`,
 * where the prefix (ConnectionEnd.counterpartyPrefix) is `{provenance}/{application}/{owner}/` of
 * the host's notes.
 */
import { type Note, noteKey, ownerPrefix } from '../../engines/executor/notes.ts';
import { concatBytes } from '../../wire/bytes.ts';
import { encodeVarint } from '../../wire/varint.ts';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Separates a path from its version in a key; ICS-24 paths never contain it. */
const SEPARATOR = 0;
/** Most bytes of a path (a limit on everything; ICS-24 identifiers keep real paths far shorter). */
export const MAX_PATH_BYTES = 512;

/** The key of the note holding version `version` of `path`: UTF-8 path, 0x00, version (u64 BE). */
export function objectKey(path: string, version: bigint): Uint8Array {
  const p = enc.encode(path);
  const out = new Uint8Array(p.length + 9);
  out.set(p, 0);
  out[p.length] = SEPARATOR;
  new DataView(out.buffer).setBigUint64(p.length + 1, version);
  return out;
}

/** The path and version a note key names, or undefined for a key that is not one. */
export function parseObjectKey(key: Uint8Array): { path: string; version: bigint } | undefined {
  if (key.length < 10 || key.length > MAX_PATH_BYTES + 9) return undefined;
  const at = key.length - 9;
  if (key[at] !== SEPARATOR) return undefined;
  const raw = key.subarray(0, at);
  if (raw.includes(SEPARATOR)) return undefined;
  let path: string;
  try {
    path = dec.decode(raw);
  } catch {
    return undefined;
  }
  const version = new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(at + 1);
  return { path, version };
}

/** The note holding `value` as version `version` of `path`, under the host's commitment. */
export function ibcNote(host: Uint8Array, path: string, version: bigint, value: Uint8Array): Note {
  return { provenance: [], application: host, owner: host, key: objectKey(path, version), value };
}

/** What the host's state keys of IBC paths start with: a counterparty's `counterpartyPrefix`. */
export function ibcPrefix(host: Uint8Array): Uint8Array {
  return ownerPrefix([], host, host);
}

/** The state key (Merkle key) of version `version` of `path` under `prefix`: what a proof proves. */
export function stateKey(prefix: Uint8Array, path: string, version: bigint): Uint8Array {
  const key = objectKey(path, version);
  return concatBytes(prefix, encodeVarint(key.length), key);
}

/** Equal to `noteKey(ibcNote(host, path, version, _))` (a check for tests and callers). */
export function hostStateKey(host: Uint8Array, path: string, version: bigint): Uint8Array {
  return noteKey({ provenance: [], application: host, owner: host, key: objectKey(path, version) });
}
