#!/usr/bin/env node
// Entry point: runs the compiled CLI when built, otherwise the TypeScript source through tsx.
import { run } from './launch.js';

await run('cli/main');
