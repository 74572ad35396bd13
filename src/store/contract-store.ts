import type { Kysely, Selectable } from 'kysely';
import { TarmacError } from '../shared/errors.ts';
import { isUniqueViolation, writeTransaction, currentDb } from './dialect.ts';
import type { StoreConnection } from './dialect.ts';
import type { ContractRecord, ContractStore, NewContract } from './records.ts';
import type { ContractsTable, Database } from './schema.ts';

/** How often `add` retries after losing a race for the same next number (PostgreSQL has no row to lock yet). */
const MAX_ATTEMPTS = 5;

/**
 * Versioned data contracts on SQLite or PostgreSQL. Numbers are max+1 per name; on SQLite the immediate transaction
 * serialises writers, on PostgreSQL the unique (name, version) constraint decides a race and the loser retries.
 */
export class KyselyContractStore implements ContractStore {
  /** The ambient transaction's query layer when there is one (see `currentDb`), else the connection's. */
  private get db(): Kysely<Database> {
    return currentDb(this.conn);
  }

  constructor(private readonly conn: StoreConnection) {}

  /** Adds the next version of `input.name`; throws STORE_CONFLICT if it keeps losing races (very unlikely). */
  async add(input: NewContract): Promise<ContractRecord> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await writeTransaction(this.conn, async (trx) => {
          const { max } = await trx
            .selectFrom('contracts')
            .select((eb) => eb.fn.max('version').as('max'))
            .where('name', '=', input.name)
            .executeTakeFirstOrThrow();
          const row = await trx
            .insertInto('contracts')
            .values({
              name: input.name,
              version: (max ?? 0) + 1,
              odcs_version: input.odcsVersion,
              document: input.document,
              sha256: input.sha256,
              compatibility: input.compatibility,
              created_by: input.createdBy,
              created_at: input.createdAt,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          return toContract(row);
        });
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        if (attempt >= MAX_ATTEMPTS) {
          throw new TarmacError('STORE_CONFLICT', `concurrent registrations of contract ${input.name} kept conflicting; retry`, {
            cause: err, retryable: true, details: { contract: input.name },
          });
        }
      }
    }
  }

  /** One version of a contract, if it exists. */
  async get(name: string, version: number): Promise<ContractRecord | undefined> {
    const row = await this.db.selectFrom('contracts').selectAll().where('name', '=', name).where('version', '=', version).executeTakeFirst();
    return row && toContract(row);
  }

  /** The highest version of `name`, if any. */
  async latest(name: string): Promise<ContractRecord | undefined> {
    const row = await this.db.selectFrom('contracts').selectAll().where('name', '=', name).orderBy('version', 'desc').limit(1).executeTakeFirst();
    return row && toContract(row);
  }

  /** The versions of `name`, oldest first. */
  async listVersions(name: string): Promise<ContractRecord[]> {
    const rows = await this.db.selectFrom('contracts').selectAll().where('name', '=', name).orderBy('version').execute();
    return rows.map(toContract);
  }

  /** The latest version of every contract, by name. */
  async listLatest(): Promise<ContractRecord[]> {
    const rows = await this.db
      .selectFrom('contracts as c')
      .selectAll('c')
      .where((eb) => eb('c.version', '=', eb.selectFrom('contracts as d').select((e) => e.fn.max('d.version').as('m')).whereRef('d.name', '=', 'c.name')))
      .orderBy('c.name')
      .execute();
    return rows.map(toContract);
  }
}

function toContract(r: Selectable<ContractsTable>): ContractRecord {
  return {
    id: r.id,
    name: r.name,
    version: r.version,
    odcsVersion: r.odcs_version,
    document: r.document,
    sha256: r.sha256,
    compatibility: r.compatibility,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}
