// The nhictl command tree, built under the name it is invoked as: `nhictl`, or `kubectl nhi` when
// kubectl runs it as a plugin (bin/kubectl-nhi.js). Each command group registers itself here.

import { Command } from 'commander';
import { registerActivityCommand } from './activity.ts';
import { registerAdoptCommand } from './adopt.ts';
import { registerAuditCommands } from './audit.ts';
import { registerCompletionCommand } from './completion.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDevCommands } from './dev.ts';
import { registerIdentityCommands } from './identity.ts';
import { registerInventoryCommand } from './inventory.ts';
import { registerLintCommand } from './lint.ts';
import { registerListCommand } from './list.ts';
import { registerReportCommand } from './report.ts';
import { registerRiskCommand } from './risk.ts';
import { registerScanCommand } from './scan.ts';

export type ProgramName = 'nhictl' | 'kubectl nhi';

export function buildProgram(name: ProgramName = 'nhictl'): Command {
  const program = new Command(name)
    .description('non-human identities for AI agents and services on Kubernetes')
    .showHelpAfterError();
  registerDevCommands(program);
  registerDemoCommand(program);
  registerListCommand(program);
  registerIdentityCommands(program);
  registerAuditCommands(program);
  registerLintCommand(program);
  registerInventoryCommand(program);
  registerRiskCommand(program);
  registerActivityCommand(program);
  registerAdoptCommand(program);
  registerReportCommand(program);
  registerScanCommand(program);
  registerCompletionCommand(program);
  return program;
}

/** Parses `argv` and runs the command; a failure is one line on stderr and exit code 1. */
export async function runProgram(name: ProgramName, argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram(name).parseAsync([...argv]);
  } catch (error) {
    console.error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
