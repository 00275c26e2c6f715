// kubectl nhi (bin/kubectl-nhi.js): the same commands as nhictl, run by kubectl as a plugin. kubectl
// finds any executable named kubectl-<name> on PATH and runs it with the words after `kubectl <name>`.

import { runProgram } from './program.ts';

await runProgram('kubectl nhi');
