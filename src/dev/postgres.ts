// A private PostgreSQL for the dev environment and the tests: Debian's server binaries, a data folder
// and a unix-socket folder under the environment's state folder, a free loopback port, password
// (scram-sha-256) authentication for every connection and a generated superuser password.
//
// initdb and postgres refuse to run as root. When this process is root, both run as the `postgres`
// user the Debian package creates (else `nobody`), through Node's own spawn uid/gid: no runuser or
// sudo needed. That user must be able to walk into the state folder, so the folder is made
// traversable (0711: others may enter a path they know, not list it); the data folder itself is
// 0700 and owned by that user.

import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomToken } from './pki.ts';
import { type StartedProcess, startProcess, waitUntil } from './processes.ts';

export interface DevPostgres {
  host: string;
  port: number;
  /** The folder of the server's unix socket (inside the state folder). */
  socketDir: string;
  /** The bootstrap superuser; the harness seeds schemas with it. OpenBao gets its own login. */
  superuser: string;
  password: string;
  database: string;
}

/** The folder holding initdb and postgres: `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string | undefined {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'));
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dir && has(dir)) return dir;
  } catch {
    // no pg_config (Debian ships it in libpq-dev): look where the server package installs
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = join(root, version, 'bin');
    if (has(dir)) return dir;
  }
  return undefined;
}

/** Who runs the server: ourselves, or (as root) the `postgres` user, else `nobody`. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((line) => line.startsWith(`${name}:`))?.split(':');
    if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('running as root and no postgres or nobody user to run PostgreSQL as');
}

/**
 * initdb into <dir>/postgres, then start the server; resolves once it accepts password logins.
 * `record` gets the process as soon as it is spawned, so a failed start still stops it.
 */
export async function startPostgres(
  dir: string,
  port: number,
  binDir: string,
  record: (started: StartedProcess) => void,
): Promise<DevPostgres> {
  const user = serverUser();
  const dataDir = join(dir, 'postgres', 'data');
  const socketDir = join(dir, 'postgres', 'socket');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const password = randomToken(24);
  const pwfile = join(dir, 'postgres', 'superuser-password');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) {
    chmodSync(dir, 0o711);
    chmodSync(join(dir, 'postgres'), 0o711);
    for (const path of [dataDir, socketDir, pwfile]) chownSync(path, user.uid, user.gid);
  }
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  // Asynchronous: the other components start meanwhile.
  await promisify(execFile)(
    join(binDir, 'initdb'),
    [
      `--pgdata=${dataDir}`,
      '--username=postgres',
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ],
    { ...ids, cwd: dataDir, env: { PATH: process.env.PATH ?? '' } },
  );
  rmSync(pwfile, { force: true }); // state.json keeps the password; no second copy
  const started = startProcess(
    'postgres',
    join(binDir, 'postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${socketDir}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ],
    { dir, cwd: dataDir, env: { PATH: process.env.PATH ?? '' }, ...ids },
  );
  record(started);
  const postgres: DevPostgres = {
    host: '127.0.0.1',
    port,
    socketDir,
    superuser: 'postgres',
    password,
    database: 'postgres',
  };
  await waitUntil('PostgreSQL', () => acceptsLogin(binDir, postgres), {
    timeoutMs: 30_000,
    process: started,
    intervalMs: 200,
  });
  return postgres;
}

async function acceptsLogin(binDir: string, pg: DevPostgres): Promise<boolean> {
  try {
    execFileSync(
      join(binDir, 'pg_isready'),
      ['-h', pg.host, '-p', String(pg.port), '-U', pg.superuser, '-d', pg.database, '-q'],
      { stdio: 'ignore' },
    );
    return true;
  } catch {
    return false;
  }
}
