/**
 * Peer addresses: `ws://host:port` (or `wss://`, or a bare `host:port`), optionally pinning the
 * peer's identity as a URL fragment (`ws://127.0.0.1:7001#<hex ed25519 public key>`) or through a
 * `{ address, publicKey }` entry.
 */

export interface PeerEntry {
  /** normalised: `ws://host:port` (plus a path when one was given), without the fragment */
  readonly address: string;
  /** the identity the peer must prove (lowercase hex), when pinned */
  readonly publicKey?: string;
}

const KEY_HEX = /^[0-9a-fA-F]{64}$/;
export const MAX_ADDRESS_CHARS = 256;

/** Whether `s` is a 32-byte public key in hex. */
export function isKeyHex(s: unknown): s is string {
  return typeof s === 'string' && KEY_HEX.test(s);
}

/** `ws://host:port[/path]` of an address, or undefined when it is not a usable WebSocket address. */
export function normaliseAddress(raw: string): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_ADDRESS_CHARS) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `ws://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return undefined;
  if (u.hostname === '' || u.username !== '' || u.password !== '' || u.search !== '') return undefined;
  const path = u.pathname === '/' ? '' : u.pathname;
  return `${u.protocol}//${u.host}${path}`;
}

/** A configured peer: a string with an optional `#<hex key>` fragment, or `{ address, publicKey }`. */
export function parsePeerEntry(entry: string | { address: string; publicKey?: string }): PeerEntry {
  let address: string;
  let key: string | undefined;
  if (typeof entry === 'string') {
    const hash = entry.indexOf('#');
    address = hash < 0 ? entry : entry.slice(0, hash);
    key = hash < 0 ? undefined : entry.slice(hash + 1);
  } else if (typeof entry === 'object' && entry !== null && typeof entry.address === 'string') {
    address = entry.address;
    key = entry.publicKey;
    if (key === undefined && address.includes('#')) {
      const hash = address.indexOf('#');
      key = address.slice(hash + 1);
      address = address.slice(0, hash);
    }
  } else {
    throw new TypeError(`peer entry must be a string or { address, publicKey }, got ${String(entry)}`);
  }
  const normal = normaliseAddress(address);
  if (normal === undefined)
    throw new TypeError(`peer address is not a ws:// or wss:// address: "${address}"`);
  if (key === undefined || key === '') return { address: normal };
  if (!isKeyHex(key)) throw new TypeError(`peer public key must be 64 hex digits, got "${key}"`);
  return { address: normal, publicKey: key.toLowerCase() };
}

const UNSPECIFIED = new Set(['0.0.0.0', '[::]', '::', '']);

/** The host of a socket's remote address, IPv4-mapped IPv6 unwrapped, IPv6 bracketed for URLs. */
export function hostOfRemote(remote: string | undefined): string | undefined {
  if (remote === undefined || remote === '') return undefined;
  const v4 = remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
  return v4;
}

/**
 * The address a peer advertised, made usable from here: an unspecified host (`0.0.0.0`, `::`) is
 * replaced by the address its connection came from. Undefined when the advertisement is unusable.
 */
export function resolveAdvertised(advertised: string, remoteHost: string | undefined): string | undefined {
  const normal = normaliseAddress(advertised);
  if (normal === undefined) return undefined;
  const u = new URL(normal);
  if (!UNSPECIFIED.has(u.hostname)) return normal;
  if (remoteHost === undefined) return undefined;
  const host = remoteHost.includes(':') ? `[${remoteHost}]` : remoteHost;
  const path = u.pathname === '/' ? '' : u.pathname;
  return `${u.protocol}//${host}${u.port === '' ? '' : `:${u.port}`}${path}`;
}
