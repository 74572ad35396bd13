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

/**
 * Runs `fn` in a write transaction and commits, or rolls back and rethrows when `fn` throws.
 * SQLite starts with `BEGIN IMMEDIATE` so a second process waits on busy_timeout instead of failing when its read
 * lock cannot be upgraded; PostgreSQL uses a plain READ COMMITTED transaction and callers lock rows explicitly.
 */
export async function writeTransaction<T>(conn: StoreConnection, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (conn.dialect === 'postgres') return conn.db.transaction().execute(fn);
  return conn.db.connection().execute(async (single) => {
    await sql`begin immediate`.execute(single);
    try {
      const result = await fn(single);
      await sql`commit`.execute(single);
      return result;
    } catch (err) {
      // Also after a failed commit: the one shared connection must never be left inside a transaction.
      await sql`rollback`.execute(single).catch(() => undefined);
      throw err;
    }
  });
}

/** True when `err` is a unique or primary-key violation raised by either driver. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
