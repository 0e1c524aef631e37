/**
 * `npm run planted [-- <bug>...] [--keep]`: plants known consensus bugs one at a time in a copy
 * of the tree and runs the consensus property suites (CI size and seed) against each, to show
 * which property catches which bug. Every bug must be caught by at least one fast-check property
 * (props/consensus*.test.ts), not only by a scenario or unit test: exit code 1 otherwise.
 *
 * The bugs are the ones that survived an earlier round of planted-bug testing (issue 14) plus
 * the classic ones; each is a single source edit, checked to apply exactly once.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** One source edit: `find` (which must occur exactly once in `file`) becomes `replace`. */
export interface Edit {
  file: string;
  find: string;
  replace: string;
}

export interface PlantedBug {
  name: string;
  /** what the bug does, in protocol terms */
  what: string;
  edits: readonly Edit[];
}

const edit = (file: string, find: string, replace: string): Edit[] => [{ file, find, replace }];

export const PLANTED_BUGS: readonly PlantedBug[] = [
  {
    name: 'valid-round-unbacked',
    what: 'a proposal whose valid round has no polka at that round is acted on as if it had one (line 28)',
    edits: edit(
      'engines/consensus/round.ts',
      "return vr >= 0 && vr < s.round && hasQuorumFor(s.votes, vr, 'prevote', p.value) ? p : undefined;",
      'return vr >= 0 && vr < s.round ? p : undefined;',
    ),
  },
  {
    name: 'certificate-one-short',
    what: 'a commit certificate one (smallest) signature short of 2/3 of the power is accepted',
    edits: edit(
      'engines/consensus/chain.ts',
      "return power >= quorum(set.totalPower) ? null : 'bad-certificate';",
      "return power + Math.min(...set.validators.map((v) => v.power)) >= quorum(set.totalPower) ? null : 'bad-certificate';",
    ),
  },
  {
    name: 'proposal-signature-unchecked',
    what: "proposals are accepted without checking the proposer's signature",
    edits: edit(
      'engines/consensus/node.ts',
      "if (!env.verify(validator.publicKey, signed, p.signature)) return penalize(s, fx, peer, 'bad-signature');",
      '',
    ),
  },
  {
    name: 'wal-ignored-on-restart',
    what: 'a restarted validator signs afresh for a step it had already signed, ignoring its WAL',
    // the WAL guards against signing twice in two ways: a restarted node resumes where its WAL
    // says it was, and signing asks the WAL first; ignoring the WAL means both
    edits: [
      { file: 'engines/consensus/node.ts', find: 'if (earlier !== undefined) return earlier;', replace: '' },
      {
        file: 'engines/consensus/node.ts',
        find: 'const wal = env.store.wal(s.height);\n  const resumeRound',
        replace: 'const wal: WalEntry[] = [];\n  const resumeRound',
      },
    ],
  },
  {
    name: 'lock-forgotten-on-restart',
    what: 'a restarted validator forgets its lock',
    edits: edit(
      'engines/consensus/node.ts',
      'return { step, lockedValue, lockedRound };',
      'return { step, lockedValue: null, lockedRound: -1 };',
    ),
  },
  {
    name: 'vote-signature-unchecked',
    what: "votes are counted without checking the voter's signature",
    edits: edit(
      'engines/consensus/chain.ts',
      "return verify(validator.publicKey, voteSignBytes(chainId, vote), vote.signature) ? null : 'bad-signature';",
      'return null;',
    ),
  },
  {
    name: 'lock-rule-dropped',
    what: 'a locked validator prevotes a new value (line 22 without the lock)',
    edits: edit(
      'engines/consensus/round.ts',
      'p !== undefined && p.validRound === -1 && p.valid && (s.lockedRound === -1 || s.lockedValue === p.value)',
      'p !== undefined && p.validRound === -1 && p.valid',
    ),
  },
  {
    name: 'precommit-without-polka',
    what: 'a validator precommits the proposal once 2f+1 prevotes of any values arrived (line 36)',
    edits: edit(
      'engines/consensus/round.ts',
      "return !s.lockedThisRound && p?.valid === true && hasQuorumFor(s.votes, s.round, 'prevote', p.value);",
      "return !s.lockedThisRound && p?.valid === true && hasQuorumAny(s.votes, s.round, 'prevote');",
    ),
  },
  {
    name: 'round-skip-on-one',
    what: 'a validator skips to a higher round on a single message from it (line 55 needs f+1)',
    edits: edit(
      'engines/consensus/votekeeper.ts',
      'return (k.rounds[round]?.senderPower ?? 0) >= oneThirdPlus(k.totalPower);',
      'return (k.rounds[round]?.senderPower ?? 0) > 0;',
    ),
  },
  {
    name: 'quorum-two-thirds-inclusive',
    what: 'quorums of exactly 2/3 of the power count (2f instead of 2f+1)',
    edits: edit(
      'engines/consensus/validators.ts',
      'return Math.floor((total * 2) / 3) + 1;',
      'return Math.ceil((total * 2) / 3);',
    ),
  },
  {
    name: 'equivocation-counted-twice',
    what: "an equivocator's second vote adds to the any-value tally (power counted twice)",
    edits: edit(
      'engines/consensus/votekeeper.ts',
      'total: first === undefined ? tally.total + power : tally.total,',
      'total: tally.total + power,',
    ),
  },
];

/** The suites a planted bug runs against: the consensus properties and scenario suites. */
export const SUITES = [
  'props/consensus.test.ts',
  'props/consensus-restart.test.ts',
  'props/consensus-valset.test.ts',
  'props/consensus-twins.test.ts',
];

/**
 * Files whose tests are all properties (fast-check, or the Twins enumeration); elsewhere a test
 * counts as a property when its name starts with "property:".
 */
export const PROPERTY_FILES = ['props/consensus.test.ts', 'props/consensus-twins.test.ts'];

/** Applies one edit of `bug` to its file's text; throws unless its `find` occurs exactly once. */
export function plant(source: string, bug: PlantedBug, e: Edit): string {
  const at = source.indexOf(e.find);
  if (at < 0 || source.indexOf(e.find, at + 1) >= 0) {
    const where = at < 0 ? 'nowhere' : 'more than once';
    throw new Error(`planted bug ${bug.name}: the text to replace occurs ${where} in ${e.file}`);
  }
  return source.slice(0, at) + e.replace + source.slice(at + e.find.length);
}

interface VitestJson {
  testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
}

export interface BugResult {
  bug: PlantedBug;
  /** failing tests as `file > name` */
  failed: string[];
  byProperty: boolean;
}

/** The failing tests of a vitest JSON report, and whether one of them is a property. */
export function caughtBy(report: VitestJson, root: string): { failed: string[]; byProperty: boolean } {
  const failed: string[] = [];
  let byProperty = false;
  for (const file of report.testResults) {
    const rel = file.name.startsWith(root) ? file.name.slice(root.length + 1) : file.name;
    for (const t of file.assertionResults) {
      if (t.status !== 'failed') continue;
      failed.push(`${rel} > ${t.fullName}`);
      if (PROPERTY_FILES.includes(rel) || / property: /.test(` ${t.fullName}`)) byProperty = true;
    }
  }
  return { failed, byProperty };
}

function copyTree(from: string, to: string): void {
  const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: from, encoding: 'utf8' });
  if (files.status !== 0) throw new Error(`git ls-files failed: ${files.stderr}`);
  for (const f of files.stdout.split('\n')) {
    // a worktree's node_modules may be a symlink, which git lists as a file
    if (f === '' || f === 'node_modules' || f.startsWith('node_modules/')) continue;
    try {
      cpSync(join(from, f), join(to, f), { recursive: false });
    } catch {
      // a file listed but deleted in the working tree
    }
  }
  symlinkSync(join(from, 'node_modules'), join(to, 'node_modules'));
}

function runOne(root: string, bug: PlantedBug, keep: boolean): BugResult {
  const dir = mkdtempSync(join(tmpdir(), `fractal-planted-${bug.name}-`));
  try {
    copyTree(root, dir);
    for (const e of bug.edits) {
      const path = join(dir, e.file);
      writeFileSync(path, plant(readFileSync(path, 'utf8'), bug, e));
    }
    const out = join(dir, 'vitest-report.json');
    const env = { ...process.env };
    delete env.FRACTAL_PROPS_RUNS;
    delete env.FRACTAL_PROPS_SEED;
    // whether a property fails is all that is asked: no shrinking, no trace of the failure
    env.FRACTAL_PROPS_FIRST_FAILURE = '1';
    spawnSync('npx', ['vitest', 'run', ...SUITES, '--reporter=json', `--outputFile=${out}`], {
      cwd: dir,
      env,
      stdio: 'ignore',
    });
    const report = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
    return { bug, ...caughtBy(report, dir) };
  } finally {
    if (keep) console.log(`  (kept ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const keep = args.includes('--keep');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !PLANTED_BUGS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(
      `planted: unknown bug ${unknown.join(', ')}; known: ${PLANTED_BUGS.map((b) => b.name).join(', ')}`,
    );
    process.exit(2);
  }
  const bugs = names.length === 0 ? PLANTED_BUGS : PLANTED_BUGS.filter((b) => names.includes(b.name));
  const root = resolve(import.meta.dirname, '..');
  console.log(`planted: ${bugs.length} bugs against ${SUITES.join(', ')} (CI size and seed)`);
  let escaped = 0;
  for (const [i, bug] of bugs.entries()) {
    const t0 = Date.now();
    console.log(`[${i + 1}/${bugs.length}] ${bug.name}: ${bug.what}`);
    const r = runOne(root, bug, keep);
    const verdict = r.byProperty
      ? 'CAUGHT by a property'
      : r.failed.length > 0
        ? 'caught, but by no property'
        : 'SURVIVED';
    if (!r.byProperty) escaped++;
    console.log(`  ${verdict} (${Math.round((Date.now() - t0) / 1000)} s)`);
    for (const f of r.failed) console.log(`    ${f}`);
  }
  console.log(`planted: ${bugs.length - escaped} of ${bugs.length} caught by a property`);
  process.exit(escaped === 0 ? 0 : 1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
