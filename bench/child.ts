import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';

/** What a benchmark server child announces once it accepts requests. */
export interface ServerInfo {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Path of the predict endpoint under `url`. */
  path: string;
  /** Extra request headers (Tarmac's `Authorization`). */
  headers: Record<string, string>;
  /** Path of a Prometheus endpoint (read with `headers`) exposing the prediction log counters, if the server has one. */
  metricsPath?: string;
  /** Free-form facts for the report (runtime versions, model name). */
  facts: Record<string, string>;
}

/** A started server and how to stop it. */
export interface StartedServer {
  info: ServerInfo;
  close(): Promise<void>;
}

const READY_KEY = 'benchReady';

/**
 * Runs a benchmark server as a child process: starts it, prints one `{"benchReady": info}` JSON line on stdout, and
 * closes it on SIGTERM, SIGINT or when the parent goes away (stdin ends); exits 1 when the start fails.
 */
export async function runChild(start: () => Promise<StartedServer>): Promise<void> {
  let server: StartedServer;
  try {
    server = await start();
  } catch (err) {
    console.error(err);
    process.exit(1);
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close().then(() => process.exit(0), (err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // An orphaned child (the parent was killed) sees its stdin end and stops too.
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ [READY_KEY]: server.info })}\n`);
}

/**
 * Waits for a child's ready line; forwards its other stdout lines (logs) to stderr with a prefix. Rejects when the
 * child exits first or is not ready within `timeoutMs`.
 */
export function waitForReady(child: ChildProcess, label: string, timeoutMs: number): Promise<ServerInfo> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) {
      reject(new Error(`${label}: child has no stdout pipe`));
      return;
    }
    let ready = false;
    const timer = setTimeout(() => finish(new Error(`${label}: not ready after ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      finish(new Error(`${label}: exited before it was ready (code ${code}, signal ${signal})`));
    };
    const finish = (err: Error | undefined, info?: ServerInfo): void => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(info!);
    };
    child.once('exit', onExit);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!ready && line.startsWith(`{"${READY_KEY}"`)) {
        try {
          finish(undefined, (JSON.parse(line) as Record<string, ServerInfo>)[READY_KEY]);
          return;
        } catch {
          // not our line after all: forward it below
        }
      }
      process.stderr.write(`[${label}] ${line}\n`);
    });
  });
}
