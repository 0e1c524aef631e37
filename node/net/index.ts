/**
 * The peer-to-peer transport between Fractal nodes: authenticated (ed25519), encrypted
 * (x25519 + ChaCha20-Poly1305) WebSocket sessions carrying opaque frames on numbered channels,
 * with rate limits, peer scores, bans, reconnection and peer exchange. See README.md.
 */
export { isKeyHex, normaliseAddress, type PeerEntry, parsePeerEntry } from './address.ts';
export {
  DEFAULT_PENALTY_WEIGHT,
  type DisconnectReason,
  type FrameHandler,
  type Log,
  type LogLevel,
  type NetworkStats,
  OFFENCE_WEIGHT,
  type PeerEvent,
  type PeerInfo,
  PeerNetwork,
  type PeerNetworkOptions,
  type Rejection,
} from './network.ts';
export { CONTROL_CHANNEL, FRAME_OVERHEAD, MAX_APP_CHANNEL, PROTOCOL_VERSION } from './protocol.ts';
export { DEFAULT_SCORING, type ScoringPolicy } from './scores.ts';

/** Application channels the node uses. */
export const CHANNEL_CONSENSUS = 0;
export const CHANNEL_MEMPOOL = 1;
