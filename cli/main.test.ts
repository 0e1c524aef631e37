/**
 * Every `fractal` subcommand answers `--help` with its usage and exit code 0 (help text is built
 * from the declared options, so a default commander cannot print, such as a bigint, crashes it).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { program } from './main.ts';

const FRACTAL = fileURLToPath(new URL('../bin/fractal.js', import.meta.url));

/** Every command below `root`, with its path of names. */
function commandsOf(root: Command, path: string[] = []): { path: string[]; command: Command }[] {
  return root.commands.flatMap((c) => {
    const here = [...path, c.name()];
    return [{ path: here, command: c }, ...commandsOf(c, here)];
  });
}

/** Runs `fractal <args>` in this process with output captured and exits turned into throws. */
async function runInProcess(args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  let out = '';
  let err = '';
  const all = [{ path: [], command: program }, ...commandsOf(program)];
  for (const { command } of all) {
    command.exitOverride();
    command.configureOutput({
      writeOut: (s) => {
        out += s;
      },
      writeErr: (s) => {
        err += s;
      },
    });
  }
  try {
    await program.parseAsync(['node', 'fractal', ...args]);
    return { out, err, exitCode: 0 };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { out, err, exitCode: e.exitCode };
  }
}

describe('fractal --help', () => {
  const commands = commandsOf(program);

  it('knows the subcommands it documents', () => {
    const names = commands.map((c) => c.path.join(' '));
    expect(names).toEqual(
      expect.arrayContaining([
        'node',
        'devnet',
        'tx transfer',
        'tx mint',
        'sim',
        'intent swap',
        'intent fund',
        'query intents',
      ]),
    );
    expect(names.length).toBeGreaterThan(15);
  });

  it.each(
    [[], ...commands.map((c) => c.path)].map((path) => [path.join(' ') || '(top level)', path] as const),
  )('%s --help prints its usage and exits 0', async (_label, path) => {
    const r = await runInProcess([...path, '--help']);
    expect(r.err).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.out).toContain(`Usage: fractal${path.length === 0 ? '' : ` ${path.join(' ')}`}`);
    expect(r.out).toMatch(/-h, --help/);
  });

  it('devnet --rate takes an offered rate above 0 and refuses anything else before starting', async () => {
    const help = await runInProcess(['devnet', '--help']);
    expect(help.out).toMatch(/--rate <tx\/s>\s+offer this many transfers per second, open loop/);
    for (const bad of ['0', '-5', 'fast', 'Infinity']) {
      const r = await runInProcess(['devnet', '--rate', bad]);
      expect(r.exitCode).toBe(1);
      expect(r.err).toContain(`--rate must be a number above 0 and at most 100000, got "${bad}"`);
    }
  });

  it('intent swap: a malformed --give says what is expected, before anything is read', async () => {
    const r = await runInProcess(['intent', 'swap', '--key', 'no.key', '--give', '10:q', '--want', '5:b']);
    expect(r.exitCode).not.toBe(0);
    expect(r.err).toMatch(/--give must be <amount>:<asset>, the asset as 64 hex digits or a, b, c/);
  });

  it('the real binary: fractal tx transfer --help exits 0 with the fee default', async () => {
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [FRACTAL, 'tx', 'transfer', '--help'], (e, stdout, stderr) =>
        resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout, stderr }),
      );
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--fee <n>\s+fee \(default: 10\)/);
  });
});
