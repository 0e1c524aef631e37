export { MemoryStorage } from './memory.ts';
export {
  computeRoot,
  decodeProof,
  emptyRoot,
  encodeProof,
  HASH_BYTES,
  innerHash,
  keyPath,
  leafHash,
  MAX_DEPTH,
  type MembershipProof,
  type MerkleChange,
  type MerkleEntry,
  type MerkleProof,
  MerkleProofSchema,
  type MerkleStats,
  type NonMembershipProof,
  type ProofLeaf,
  SparseMerkleTree,
  type SparseMerkleTreeOptions,
  verifyProof,
} from './merkle.ts';
export {
  bytesEqual,
  compareBytes,
  copyBytes,
  hasPrefix,
  keySuccessor,
  prefixEnd,
  scanBounds,
} from './prefix.ts';
export { FORMAT, SCHEMA_VERSION, type SqliteOptions, SqliteStorage, toStorageError } from './sqlite.ts';
export {
  type BatchOp,
  checkBytes,
  isStorageError,
  type Key,
  type ScanBounds,
  type ScanOptions,
  type Storage,
  StorageError,
  type StorageErrorCode,
  type Value,
} from './types.ts';
export {
  checkHeight,
  decodeVersionKey,
  encodeKeyPrefix,
  encodeVersionKey,
  MAX_HEIGHT,
  type VersionedOptions,
  VersionedStore,
} from './versioned.ts';
