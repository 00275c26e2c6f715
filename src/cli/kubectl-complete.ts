// kubectl_complete-nhi (bin/kubectl_complete-nhi.js): kubectl 1.26+ runs it to complete
// `kubectl nhi ...`, with the words typed after `kubectl nhi` (the last one being completed), and
// reads one candidate per line and a Cobra directive (`:4` no file names, `:0` the shell's default).

import { cobraCompletion, completeWords, completionTree } from './completion.ts';
import { buildProgram } from './program.ts';

process.stdout.write(
  cobraCompletion(completeWords(completionTree(buildProgram('kubectl nhi')), process.argv.slice(2))),
);
