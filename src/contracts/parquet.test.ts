import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { isTarmacError } from '../shared/errors.ts';
import { readParquetRows, readParquetSchema } from './parquet.ts';
import { writeParquetFile, type ParquetWriteColumn } from './parquet-writer.ts';
import type { Row } from './readers.ts';

// DuckDB is the independent implementation: it writes the files we read and reads the files we write.
let dir: string;
let instance: DuckDBInstance;
let duck: DuckDBConnection;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tarmac-parquet-'));
  instance = await DuckDBInstance.create(':memory:');
  duck = await instance.connect();
});

after(async () => {
  duck.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
});

async function collect(file: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of readParquetRows(file)) rows.push(row);
  return rows;
}

function sqlPath(file: string): string {
  return `'${file.replace(/'/g, "''")}'`;
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isTarmacError(err), `expected a TarmacError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

test('reads a DuckDB-written file with every common type across several row groups', async () => {
  const file = path.join(dir, 'types.parquet');
  await duck.run(`
    COPY (
      SELECT
        i::INTEGER AS id,
        (i::BIGINT * 1000000007) AS big,
        CASE WHEN i = 1 THEN 9007199254740993::BIGINT WHEN i = 2 THEN '-9223372036854775808'::BIGINT ELSE i::BIGINT END AS int64,
        i / 4.0 AS ratio,
        CASE WHEN i % 7 = 3 THEN NULL WHEN i = 0 THEN 'Zürich – 東京 🚀' ELSE 'row ' || i END AS label,
        i % 2 = 0 AS even,
        DATE '2024-02-28' + (i % 3)::INTEGER AS day,
        TIMESTAMP '2024-01-02 03:04:05.123456' + to_seconds(i) AS ts,
        TIMESTAMPTZ '1969-12-31 23:59:59.5+00' AS before_epoch,
        '2024-05-06 07:08:09.123456789'::TIMESTAMP_NS AS ts_ns,
        (i * 1.25)::DECIMAL(10, 2) AS price,
        12345678901234.5678901234::DECIMAL(38, 10) AS wide,
        TIME '12:34:56.789' AS at,
        [i, i + 1] AS pair,
        {'k': i, 'name': 'n' || i} AS rec,
        NULL::INTEGER AS nothing
      FROM range(10000) t(i)
    ) TO ${sqlPath(file)} (FORMAT parquet, ROW_GROUP_SIZE 2048)`);

  const schema = await readParquetSchema(file);
  assert.ok(schema.rowGroups > 1, `expected several row groups, got ${schema.rowGroups}`);
  assert.equal(schema.rows, 10000);
  const types = Object.fromEntries(schema.columns.map((c) => [c.name, c.logicalType]));
  assert.deepEqual(types, {
    id: 'integer', big: 'integer', int64: 'integer', ratio: 'number', label: 'string', even: 'boolean', day: 'date',
    ts: 'timestamp', before_epoch: 'timestamp', ts_ns: 'timestamp', price: 'number', wide: 'number', at: 'time',
    pair: 'array', rec: 'object', nothing: 'integer',
  });

  const rows = await collect(file);
  assert.equal(rows.length, 10000);
  assert.deepEqual(rows[0], {
    id: 0, big: 0, int64: 0, ratio: 0, label: 'Zürich – 東京 🚀', even: true, day: '2024-02-28',
    ts: '2024-01-02T03:04:05.123456Z', before_epoch: '1969-12-31T23:59:59.500Z', ts_ns: '2024-05-06T07:08:09.123456789Z',
    price: 0, wide: 12345678901234.568, at: '12:34:56.789', pair: [0, 1], rec: { k: 0, name: 'n0' }, nothing: null,
  });
  // int64 beyond 2^53 keeps every digit as a decimal string; within it, a number
  assert.equal(rows[1]!.int64, '9007199254740993');
  assert.equal(rows[2]!.int64, '-9223372036854775808');
  assert.equal(rows[9999]!.big, 9999 * 1000000007);
  assert.equal(rows[3]!.label, null);
  assert.equal(rows[5]!.label, 'row 5');
  assert.equal(rows[1]!.day, '2024-02-29');
  assert.equal(rows[3]!.price, 3.75);
  assert.equal(rows[4001]!.ratio, 1000.25);
  assert.equal(rows[61]!.ts, '2024-01-02T03:05:06.123456Z');
  // rows stay in file order across row-group boundaries
  assert.deepEqual(rows.map((r) => r.id), Array.from({ length: 10000 }, (_, i) => i));
  assert.ok(rows.every((r) => JSON.stringify(r) !== undefined));
});

test('an empty DuckDB file yields no rows; a Zstandard-compressed one is INGEST_UNREADABLE naming the codec', async () => {
  const empty = path.join(dir, 'empty.parquet');
  await duck.run(`COPY (SELECT 1 AS a WHERE false) TO ${sqlPath(empty)} (FORMAT parquet)`);
  assert.deepEqual(await collect(empty), []);

  const zstd = path.join(dir, 'zstd.parquet');
  await duck.run(`COPY (SELECT range AS a FROM range(10)) TO ${sqlPath(zstd)} (FORMAT parquet, COMPRESSION zstd)`);
  await rejectsWith(collect(zstd), 'INGEST_UNREADABLE', /zstd\.parquet.*ZSTD/);
});

test('files we write are read by DuckDB with the same values and types', async () => {
  const file = path.join(dir, 'ours.parquet');
  const columns: ParquetWriteColumn[] = [
    { name: 'id', logicalType: 'integer' },
    { name: 'big', logicalType: 'integer' },
    { name: 'score', logicalType: 'number' },
    { name: 'name', logicalType: 'string' },
    { name: 'ok', logicalType: 'boolean' },
    { name: 'day', logicalType: 'date' },
    { name: 'at', logicalType: 'timestamp' },
    { name: 'clock', logicalType: 'time' },
    { name: 'meta', logicalType: 'object' },
  ];
  async function* rows() {
    for (let i = 0; i < 2500; i++) {
      yield {
        id: i,
        big: i === 7 ? '9223372036854775807' : i * 3,
        score: i === 4 ? null : i / 8,
        name: i === 0 ? 'naïve café 🍵' : `n${i}`,
        ok: i % 3 === 0,
        day: i === 1 ? '1969-07-20' : '2024-02-29',
        at: i === 1 ? '2024-06-01T12:00:00.000001+02:00' : '2024-06-01T00:00:00Z',
        clock: '23:59:59.25',
        meta: i === 2 ? null : { i, tags: ['a', 'b'] },
      };
    }
  }
  const written = await writeParquetFile(file, columns, rows(), { rowGroupSize: 1000 });
  assert.deepEqual(written, { rows: 2500, rowGroups: 3 });
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes('.partial')), []);

  const described = (await duck.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlPath(file)})`)).getRowObjectsJson();
  assert.deepEqual(Object.fromEntries(described.map((r) => [r.column_name, r.column_type])), {
    id: 'BIGINT', big: 'BIGINT', score: 'DOUBLE', name: 'VARCHAR', ok: 'BOOLEAN', day: 'DATE',
    at: 'TIMESTAMP WITH TIME ZONE', clock: 'TIME', meta: 'JSON',
  });
  const groups = (await duck.runAndReadAll(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata(${sqlPath(file)})`)).getRowObjectsJson();
  assert.equal(groups[0]!.n, '3');

  const back = (await duck.runAndReadAll(`
    SELECT id::VARCHAR AS id, big::VARCHAR AS big, score, name, ok, day::VARCHAR AS day,
           strftime("at" AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS "at", clock::VARCHAR AS clock, meta::VARCHAR AS meta
    FROM read_parquet(${sqlPath(file)}) ORDER BY id::BIGINT`)).getRowObjectsJson();
  assert.equal(back.length, 2500);
  assert.deepEqual(back[0], {
    id: '0', big: '0', score: 0, name: 'naïve café 🍵', ok: true, day: '2024-02-29', at: '2024-06-01T00:00:00.000000Z',
    clock: '23:59:59.25', meta: '{"i":0,"tags":["a","b"]}',
  });
  assert.equal(back[1]!.day, '1969-07-20');
  assert.equal(back[1]!.at, '2024-06-01T10:00:00.000001Z');
  assert.equal(back[2]!.meta, null);
  assert.equal(back[4]!.score, null);
  assert.equal(back[7]!.big, '9223372036854775807');
  assert.equal(back[2499]!.score, 2499 / 8);

  // and our own reader round-trips it
  const ours = await collect(file);
  assert.equal(ours.length, 2500);
  assert.deepEqual(ours[1], {
    id: 1, big: 3, score: 0.125, name: 'n1', ok: false, day: '1969-07-20', at: '2024-06-01T10:00:00.000001Z',
    clock: '23:59:59.25', meta: { i: 1, tags: ['a', 'b'] },
  });
  assert.equal(ours[7]!.big, '9223372036854775807');
});

test('a row group larger than a slice is read in slices (offset index) with every row in order', async () => {
  const file = path.join(dir, 'large-group.parquet');
  const n = 70_000;
  async function* rows() {
    // unique 40-byte strings span several pages, so that chunk gets an offset index
    for (let i = 0; i < n; i++) yield { i, s: `v${i}-${'x'.repeat(32)}` };
  }
  await writeParquetFile(file, [{ name: 'i', logicalType: 'integer' }, { name: 's', logicalType: 'string' }], rows(), { rowGroupSize: n });
  assert.equal((await readParquetSchema(file)).rowGroups, 1);
  let k = 0;
  for await (const row of readParquetRows(file)) {
    if (row.i !== k || row.s !== `v${k}-${'x'.repeat(32)}`) assert.fail(`row ${k} is ${JSON.stringify(row)}`);
    k++;
  }
  assert.equal(k, n);
});

test('zero rows make a valid file with the declared columns', async () => {
  const file = path.join(dir, 'none.parquet');
  async function* none(): AsyncGenerator<Record<string, unknown>> {}
  assert.deepEqual(await writeParquetFile(file, [{ name: 'a', logicalType: 'integer' }], none()), { rows: 0, rowGroups: 0 });
  const res = (await duck.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet(${sqlPath(file)})`)).getRowObjectsJson();
  assert.equal(res[0]!.n, 0);
  assert.deepEqual(await collect(file), []);
});

test('a value that does not fit its column is VALIDATION_FAILED naming row and column, and leaves no file', async () => {
  const file = path.join(dir, 'bad.parquet');
  async function* rows() {
    yield { n: 1 };
    yield { n: 'one' };
  }
  await rejectsWith(writeParquetFile(file, [{ name: 'n', logicalType: 'integer' }], rows()), 'VALIDATION_FAILED', /row 2, column "n": expected an integer/);
  assert.equal(existsSync(file), false);
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes('.partial')), []);
});

test('a file that is not Parquet is INGEST_UNREADABLE naming the path', async () => {
  const csv = path.join(dir, 'not.parquet');
  await writeFile(csv, 'a,b\n1,2\n3,4\n5,6\n');
  await rejectsWith(collect(csv), 'INGEST_UNREADABLE', /not\.parquet: not a Parquet file/);
  await rejectsWith(readParquetSchema(csv), 'INGEST_UNREADABLE', /not\.parquet/);

  const tiny = path.join(dir, 'tiny.parquet');
  await writeFile(tiny, 'PAR1');
  await rejectsWith(collect(tiny), 'INGEST_UNREADABLE', /tiny\.parquet/);

  const corrupt = path.join(dir, 'corrupt.parquet');
  await writeFile(corrupt, Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 7), Buffer.from([200, 0, 0, 0]), Buffer.from('PAR1')]));
  await rejectsWith(collect(corrupt), 'INGEST_UNREADABLE', /corrupt\.parquet: the Parquet footer cannot be read/);

  await rejectsWith(collect(path.join(dir, 'missing.parquet')), 'INGEST_UNREADABLE', /missing\.parquet: cannot open/);
});
