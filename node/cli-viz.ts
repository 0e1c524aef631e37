/**
 * The CLI's `viz` command group. `fractal viz export` writes every engine's statechart, read from
 * the machines, as Mermaid (a Markdown document, the default) or JSON; the live page will join it.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EXPORT_FORMATS, type ExportFormat, exportStatecharts } from '../viz/export.ts';

export function registerVizCommands(program: Command): void {
  const viz = program
    .command('viz')
    .description("the engines' statecharts (and, later, the live visualiser)");

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
