import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { TarmacError } from '../shared/errors.ts';
import type { Dialect, StoreConnection } from './dialect.ts';
import type { Database } from './schema.ts';

/** An open database: the Kysely query layer, its dialect, and how to close it. */
export interface StoreDatabase extends StoreConnection {
  /** Closes the SQLite file or ends the PostgreSQL pool; call once at shutdown. */
  close(): Promise<void>;
}

/** Where and how to open the database. */
export interface OpenDatabaseOptions {
  /** `postgres://…` / `postgresql://…`, `sqlite:<path>`, `:memory:`; absent means `<dataDir>/tarmac.db`. */
  url?: string;
  /** The data directory; holds the default SQLite file. */
  dataDir: string;
  /** PostgreSQL only: the schema every pooled connection uses as its `search_path` (tests isolate themselves so). */
  schema?: string;
  /** PostgreSQL only: called when an idle pooled connection fails; the pool drops it and reconnects on demand. */
  onError?: (err: Error) => void;
}

const PG_INT8_OID = 20;
// Lowercase only: search_path folds unquoted names to lowercase, so anything else would name a different schema.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens SQLite (the default) or PostgreSQL as the URL says; throws CONFIG_INVALID on a URL or schema it cannot use.
 * Migrations are not run here; call `migrateToLatest` next.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<StoreDatabase> {
  const url = options.url?.trim() ?? '';
  if (/^postgres(ql)?:\/\//i.test(url)) return openPostgres(url, options);
  return openSqlite(sqlitePath(url, options.dataDir));
}

function sqlitePath(url: string, dataDir: string): string {
  if (url === '') return join(dataDir, 'tarmac.db');
  if (url === ':memory:' || url === 'sqlite::memory:' || url === 'sqlite://:memory:') return ':memory:';
  if (url.startsWith('sqlite://')) return url.slice('sqlite://'.length);
  if (url.startsWith('sqlite:')) return url.slice('sqlite:'.length);
  throw new TarmacError('CONFIG_INVALID', 'The database URL must start with postgres://, postgresql:// or sqlite:', {
    details: { scheme: url.split(':')[0] },
  });
}

function openSqlite(path: string): StoreDatabase {
  if (path === '') throw new TarmacError('CONFIG_INVALID', 'The sqlite: database URL has no path');
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // With WAL, NORMAL only risks the last commits on power loss, never corruption, and avoids an fsync per commit.
    sqlite.pragma('synchronous = NORMAL');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { ...handle(db, 'sqlite'), sqlite };
}

function openPostgres(url: string, options: OpenDatabaseOptions): StoreDatabase {
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new TarmacError('CONFIG_INVALID', 'The PostgreSQL schema name must be a lowercase identifier', {
      details: { schema: options.schema },
    });
  }
  const pool = new pg.Pool({
    connectionString: url,
    // Parse BIGINT as a JS number for this pool only: our BIGINTs are epoch ms, sizes, ids and counts, far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)
      ) as typeof pg.types.getTypeParser,
    },
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
  });
  // Without a listener, an idle client's network error would crash the process.
  pool.on('error', (err) => options.onError?.(err));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return handle(db, 'postgres');
}

function handle(db: Kysely<Database>, dialect: Dialect): StoreDatabase {
  let closed: Promise<void> | undefined;
  return {
    db,
    dialect,
    close: () => (closed ??= db.destroy()),
  };
}
