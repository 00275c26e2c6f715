// `nhictl audit verify FILE`: checks the hash chain of an audit log and pinpoints the first bad record.

import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { readAuditFile, verifyChain } from '../governance/audit/audit.ts';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trail');
  audit
    .command('verify <file>')
    .description('verify the SHA-256 hash chain of an audit log (JSON lines)')
    .action((file: string) => {
      if (!existsSync(file)) {
        console.error(`audit log ${file}: no such file`);
        process.exitCode = 2;
        return;
      }
      let records: ReturnType<typeof readAuditFile>;
      try {
        records = readAuditFile(file);
      } catch (error) {
        console.error(`audit log ${file}: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
        return;
      }
      const broken = verifyChain(records);
      if (broken) {
        console.error(
          `audit log ${file}: record #${broken.index + 1} (seq ${broken.seq}) fails: ${broken.problem}`,
        );
        process.exitCode = 1;
        return;
      }
      console.log(
        `audit log ${file}: ${records.length} records, chain intact${records.length ? ` (last hash ${records.at(-1)?.hash.slice(0, 16)}…)` : ''}`,
      );
    });
}
