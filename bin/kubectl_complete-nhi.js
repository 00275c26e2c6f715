#!/usr/bin/env node
// What kubectl 1.26+ runs to complete `kubectl nhi ...` (it looks for kubectl_complete-nhi on PATH).
import { run } from './launch.js';

await run('cli/kubectl-complete');
