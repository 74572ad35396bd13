import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (the CLI runs with this as its working directory). */
export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The shared fixtures folder, beside the checkout unless TARMAC_FIXTURES_DIR says otherwise. */
export const CLI_FIXTURES_DIR = process.env.TARMAC_FIXTURES_DIR
  ?? fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));

const ENTRY = ['--import', 'tsx', 'src/main.ts'];

/** What one CLI run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tarmac ARGS` as a child process; never rejects on a non-zero exit, only on a spawn failure or a timeout. */
export function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...ENTRY, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, TARMAC_API_KEY: undefined, TARMAC_URL: undefined, TARMAC_DATA_DIR: undefined, ...env },
      timeout: timeoutMs,
      maxBuffer: 10 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`tarmac ${args.join(' ')} failed to run (${err.message})\nstdout: ${stdout}\nstderr: ${stderr}`));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** A `tarmac up` process and what it printed so far. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything printed on stdout up to (and including) the curl example. */
  banner: string;
  stderr(): string;
  /** Sends SIGTERM and resolves the exit code (SIGKILLs and rejects after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Spawns `tarmac ARGS` (an `up` command) and waits for its banner, ending at the line that matches `until`. */
export function startServer(args: string[], env: Record<string, string>, until: RegExp, timeoutMs = 45_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...ENTRY, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => { out += chunk; });
  child.stderr.on('data', (chunk: string) => { err += chunk; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const stop = async (stopTimeoutMs = 15_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`tarmac up did not exit within ${stopTimeoutMs} ms of SIGTERM\nstderr: ${err}`));
      }, stopTimeoutMs);
    });
    try {
      return await Promise.race([exited, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`tarmac up ${why}\nstdout: ${out}\nstderr: ${err}`));
    };
    const timer = setTimeout(() => fail(`printed no banner within ${timeoutMs} ms`), timeoutMs);
    const poll = setInterval(() => {
      const up = /Tarmac is up on (http:\/\/localhost:\d+) /.exec(out);
      if (up && until.test(out)) {
        settled = true;
        clearInterval(poll);
        clearTimeout(timer);
        resolve({ child, url: up[1]!, banner: out, stderr: () => err, stop });
      }
    }, 50);
    child.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
  });
}
