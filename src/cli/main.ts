// nhictl (bin/nhictl.js): the command tree of program.ts under its own name.

import { runProgram } from './program.ts';

await runProgram('nhictl');
