import { AsyncLocalStorage } from 'node:async_hooks';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './schema.ts';

/** Which SQL database a store runs on; only this module and the migrations branch on it. */
export type Dialect = 'sqlite' | 'postgres';

/** An open query layer plus the dialect it speaks; what every Kysely repository is constructed with. */
export interface StoreConnection {
  db: Kysely<Database>;
  dialect: Dialect;
  /**
   * SQLite only: the raw handle, for the few hot statements worth preparing once (Kysely compiles and prepares a
   * statement on every call, which dominated the prediction log's writer).
   */
  sqlite?: BetterSqlite3.Database;
}

/** The transaction the current async call chain runs inside, and the database it belongs to. */
interface AmbientTransaction {
  db: Kysely<Database>;
  trx: Kysely<Database>;
  savepoints: number;
  done: boolean;
}

const ambient = new AsyncLocalStorage<AmbientTransaction>();

/**
 * The query layer a repository must use now: the ambient transaction opened by `inTransaction`/`writeTransaction`
 * on this connection when there is one, else the connection itself. On SQLite this is not optional: the one
 * connection is held by the open transaction, so a query beside it would wait forever.
 */
export function currentDb(conn: StoreConnection): Kysely<Database> {
  const open = ambient.getStore();
  return open !== undefined && !open.done && open.db === conn.db ? open.trx : conn.db;
}

/** True when the caller runs inside a transaction opened on this connection. */
export function inAmbientTransaction(conn: StoreConnection): boolean {
  const open = ambient.getStore();
  return open !== undefined && !open.done && open.db === conn.db;
}

/**
 * Runs `fn` as one unit of work: every repository call and audit append made inside it (through `currentDb`) joins
 * one transaction that commits when `fn` resolves and rolls back when it throws. Nested calls join the outer one.
 */
export function inTransaction<T>(conn: StoreConnection, fn: () => Promise<T>): Promise<T> {
  return writeTransaction(conn, () => fn());
}

/**
 * Runs `fn` in a write transaction and commits, or rolls back and rethrows when `fn` throws.
 * SQLite starts with `BEGIN IMMEDIATE` so a second process waits on busy_timeout instead of failing when its read
 * lock cannot be upgraded; PostgreSQL uses a plain READ COMMITTED transaction and callers lock rows explicitly.
 * Inside an ambient transaction of the same connection it runs in a savepoint of that transaction instead, so a
 * failure inside (which the caller may catch and retry) undoes only its own part.
 */
export async function writeTransaction<T>(conn: StoreConnection, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  const open = ambient.getStore();
  if (open !== undefined && !open.done && open.db === conn.db) return inSavepoint(open, fn);
  if (conn.dialect === 'postgres') return conn.db.transaction().execute((trx) => runAmbient(conn, trx, fn));
  return conn.db.connection().execute(async (single) => {
    await sql`begin immediate`.execute(single);
    try {
      const result = await runAmbient(conn, single, fn);
      await sql`commit`.execute(single);
      return result;
    } catch (err) {
      // Also after a failed commit: the one shared connection must never be left inside a transaction.
      await sql`rollback`.execute(single).catch(() => undefined);
      throw err;
    }
  });
}

/** Transactions running now; when none is, the AsyncLocalStorage is switched off (see runAmbient). */
let openTransactions = 0;

async function runAmbient<T>(conn: StoreConnection, trx: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  const open: AmbientTransaction = { db: conn.db, trx, savepoints: 0, done: false };
  openTransactions++;
  try {
    return await ambient.run(open, () => fn(trx));
  } finally {
    // Work that outlives the transaction (a timer started inside it) must fall back to the pool, not a dead handle.
    open.done = true;
    // On Node 20 an enabled AsyncLocalStorage hooks every promise in the process (the serving path included); with no
    // transaction open nothing needs the store, so it is disabled until the next `run` enables it again.
    if (--openTransactions === 0) ambient.disable();
  }
}

async function inSavepoint<T>(open: AmbientTransaction, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  const name = sql.raw(`tarmac_sp_${++open.savepoints}`);
  await sql`savepoint ${name}`.execute(open.trx);
  try {
    const result = await fn(open.trx);
    await sql`release savepoint ${name}`.execute(open.trx);
    return result;
  } catch (err) {
    await sql`rollback to savepoint ${name}`.execute(open.trx).catch(() => undefined);
    await sql`release savepoint ${name}`.execute(open.trx).catch(() => undefined);
    throw err;
  }
}

/** True when `err` is a unique or primary-key violation raised by either driver. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
