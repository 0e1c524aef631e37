/**
 * Preparing and opening a node's data directory: the folders are made one at a time (Node's
 * recursive mkdir loops forever under /proc), pseudo filesystems are refused, and the database is
 * checked before anything runs on it: SQLite's quick check of its structure, then every record's
 * checksum. A directory that fails is refused with what to do; nothing in it is changed.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { SqliteStorage } from '../storage/sqlite.ts';
import { isStorageError } from '../storage/types.ts';
import { ConfigError } from './config.ts';

/** Filesystems that are not storage: a data directory there can never hold a database. */
const PSEUDO = ['/proc', '/sys', '/dev'];

/** A data directory that exists (made if needed) and is writable; a ConfigError otherwise. */
export function prepareDataDir(configFile: string, dir: string): string {
  const abs = resolve(dir);
  const fail = (why: string): never => {
    throw new ConfigError(configFile, 'dataDir', `${abs}: ${why}`);
  };
  for (const p of PSEUDO) if (abs === p || abs.startsWith(p + sep)) fail(`${p} is not a place for data`);
  const missing: string[] = [];
  let at = abs;
  // walk up to the first folder that exists (at most one step per path component)
  for (let i = 0; !existsSync(at); i++) {
    if (i > 256) fail('path too deep');
    missing.push(at);
    const up = dirname(at);
    if (up === at) fail('no existing parent folder');
    at = up;
  }
  if (!statSync(at).isDirectory()) fail(`${at} is not a folder`);
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p);
    } catch (e) {
      fail(`cannot create ${p}: ${(e as Error).message}`);
    }
  }
  if (!statSync(abs).isDirectory()) fail('not a folder');
  try {
    accessSync(abs, constants.W_OK);
  } catch {
    fail('not writable');
  }
  return abs;
}

export interface OpenOptions {
  synchronous: 'full' | 'normal';
  walAutocheckpoint: number;
  /** the most bytes the database may grow to (0 = no limit) */
  maxBytes: number;
  /** check every record's checksum before starting (reads the whole database) */
  checksums: boolean;
  /** what to do on a damaged or foreign database (the message names the remedy) */
  remedy: string;
  /** progress of the checksum scan on a large database */
  progress?: (checked: number) => void;
}

/** Opens `<dir>/node.sqlite` after checking it, or throws a ConfigError saying what is wrong. */
export function openNodeDatabase(configFile: string, dir: string, o: OpenOptions): SqliteStorage {
  const file = join(dir, 'node.sqlite');
  let storage: SqliteStorage;
  try {
    storage = SqliteStorage.open(file, {
      synchronous: o.synchronous,
      walAutocheckpoint: o.walAutocheckpoint,
      integrityCheck: 'quick',
      ...(o.maxBytes > 0 ? { maxBytes: o.maxBytes } : {}),
    });
  } catch (e) {
    if (isStorageError(e, 'schema-mismatch')) {
      throw new ConfigError(
        configFile,
        'dataDir',
        `${e.message}; it was written by another Fractal version (${o.remedy})`,
      );
    }
    if (isStorageError(e, 'corrupt'))
      throw new ConfigError(configFile, 'dataDir', `the database is damaged: ${e.message} (${o.remedy})`);
    throw new ConfigError(configFile, 'dataDir', `cannot open the database: ${(e as Error).message}`);
  }
  if (!o.checksums) return storage;
  const { bad, checked } = storage.verifyChecksums({
    maxReported: 3,
    ...(o.progress ? { progress: o.progress } : {}),
  });
  if (bad.length > 0) {
    storage.close();
    throw new ConfigError(
      configFile,
      'dataDir',
      `the database ${file} is damaged: records fail their checksum (keys ${bad.join(', ')}; ${checked} checked) (${o.remedy})`,
    );
  }
  return storage;
}
