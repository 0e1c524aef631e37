#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx's loader, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { program } = await import('../cli/main.ts');
await program.parseAsync(process.argv);
