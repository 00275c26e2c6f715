// nhictl: thin commands over the operator's modules. Each command group registers itself here.

import { Command } from 'commander';
import { registerAuditCommands } from './audit.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDevCommands } from './dev.ts';
import { registerIdentityCommands } from './identity.ts';
import { registerInventoryCommand } from './inventory.ts';
import { registerLintCommand } from './lint.ts';
import { registerReportCommand } from './report.ts';
import { registerRiskCommand } from './risk.ts';

const program = new Command('nhictl')
  .description('non-human identities for AI agents and services on Kubernetes')
  .showHelpAfterError();

registerDevCommands(program);
registerDemoCommand(program);
registerIdentityCommands(program);
registerAuditCommands(program);
registerLintCommand(program);
registerInventoryCommand(program);
registerRiskCommand(program);
registerReportCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`nhictl: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
