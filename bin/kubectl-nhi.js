#!/usr/bin/env node
// kubectl plugin entry point: `kubectl nhi ...` runs nhictl's commands (kubectl finds kubectl-nhi on PATH).
import { run } from './launch.js';

await run('cli/kubectl-nhi');
