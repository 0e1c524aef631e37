/**
 * The CLI's `viz` command group: `fractal viz open FILE` plays a recorded trace in the browser;
 * `fractal viz export` writes every engine's statechart, read from the machines, as Mermaid (a
 * Markdown document, the default) or JSON. `serveSim` is `fractal sim --viz`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EXPORT_FORMATS, type ExportFormat, exportStatecharts } from '../viz/export.ts';
import { VizHub } from '../viz/hub.ts';
import { VizServer } from '../viz/server.ts';
import { SimSource, type VizSource } from '../viz/source.ts';
import { parseTrace, TraceError, TraceSource } from '../viz/trace.ts';
import { intArg } from './args.ts';
import { clusterFor, type SimConsensusOptions, simTitle } from './sim-consensus.ts';

/** The visualiser's default port (`--viz-port` / `--port` change it; 0 takes any free port). */
export const DEFAULT_VIZ_PORT = 7700;

/** Serves `source` until Ctrl-C; prints the page's URL. */
async function serve(source: VizSource, port: number, host: string, what: string): Promise<void> {
  const server = new VizServer(new VizHub(source), host);
  let url: string;
  try {
    url = await server.start(port);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    console.error(
      err.code === 'EADDRINUSE'
        ? `error: port ${port} is taken; choose another with --viz-port (or --port), or 0 for any free port`
        : `error: the visualiser could not start: ${err.message}`,
    );
    process.exitCode = 1;
    return;
  }
  console.log(`${what}: open ${url} to watch it (Ctrl-C stops)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
}

/** `fractal sim --viz`: the simulation, driven from the page (it starts when the page opens). */
export function serveSim(o: SimConsensusOptions, port: number, host: string): Promise<void> {
  const source = new SimSource(() => clusterFor(o), simTitle(o));
  return serve(source, port, host, `fractal sim: ${simTitle(o)}`);
}

export function registerVizCommands(program: Command): void {
  const viz = program
    .command('viz')
    .description('the browser visualiser (recorded traces) and statechart exports');

  viz
    .command('open')
    .description(
      'play a recorded trace (from `fractal sim --record FILE` or a failing property) in the browser',
    )
    .argument('<file>', 'the trace file (JSON lines)')
    .option('--port <n>', 'port of the page (0: any free port)', intArg('--port', 0, 65535), DEFAULT_VIZ_PORT)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (file: string, o: { port: number; host: string }) => {
      let source: TraceSource;
      try {
        source = new TraceSource(parseTrace(readFileSync(resolve(file), 'utf8')), { name: file });
      } catch (e) {
        const why = e instanceof TraceError ? e.message : (e as Error).message;
        console.error(`error: cannot open ${file}: ${why}`);
        process.exitCode = 1;
        return;
      }
      await serve(source, o.port, o.host, `fractal viz: ${source.title}`);
    });

  viz
    .command('export')
    .description(
      "every engine's statechart, generated from its XState machine: Mermaid (a Markdown document) or JSON",
    )
    .option('--format <format>', `output format: ${EXPORT_FORMATS.join(' | ')}`, 'mermaid')
    .option('--out <file>', 'write to this file instead of stdout')
    .action((o: { format: string; out?: string }) => {
      if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) {
        viz.error(`error: --format must be ${EXPORT_FORMATS.join(' or ')}, got "${o.format}"`);
      }
      const text = exportStatecharts(o.format as ExportFormat);
      if (o.out === undefined) {
        process.stdout.write(text);
        return;
      }
      const path = resolve(o.out);
      try {
        writeFileSync(path, text);
      } catch (e) {
        console.error(`error: cannot write ${path}: ${(e as Error).message}`);
        process.exitCode = 1;
        return;
      }
      console.error(`wrote ${o.format} statecharts to ${path}`);
    });
}
