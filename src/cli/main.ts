// nhictl: thin commands over the operator's modules. Each command group registers itself here.

import { Command } from 'commander';
import { registerDemoCommand } from './demo.ts';
import { registerDevCommands } from './dev.ts';

const program = new Command('nhictl')
  .description('non-human identities for AI agents and services on Kubernetes')
  .showHelpAfterError();

registerDevCommands(program);
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`nhictl: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
