import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { parseContract } from '../contracts/index.ts';
import { eventTimeOf, timeliness, windowStart } from './event-time.ts';
import { compileRecordKey } from './record-key.ts';
import { csvCellTyper, csvItems, formatOfFileName, formatOfMediaType, jsonLinesItems } from './sources.ts';
import type { SourceItem } from './sources.ts';

async function collect(items: AsyncIterable<SourceItem>): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const CONTRACT = parseContract(`
apiVersion: v3.1.0
kind: DataContract
id: t
name: t
version: 1.0.0
status: active
schema:
  - name: t
    properties:
      - { name: id, logicalType: integer, required: true }
      - { name: zip, logicalType: string }
      - { name: amount, logicalType: number }
      - { name: at, logicalType: timestamp }
`);

describe('CSV items', () => {
  const typer = csvCellTyper(CONTRACT.fields);

  test('cells are typed by the contract: text columns keep their raw string, others are numbers when exact', async () => {
    const items = await collect(csvItems(Readable.from(['id,zip,amount,at,other\r\n', '1,007,12.50,2026-01-01T00:00:00Z,12\r\n', '2,,abc,,\n'].join('')), typer));
    assert.deepEqual(items, [
      { rowNumber: 1, kind: 'row', value: { id: 1, zip: '007', amount: 12.5, at: '2026-01-01T00:00:00Z', other: 12 } },
      { rowNumber: 2, kind: 'row', value: { id: 2, amount: 'abc' } },
    ]);
  });

  test('a bad record is an unreadable item with its text; the rest of the file is still read', async () => {
    const text = 'id,zip\n1,a\n2,b,c\n"3,unterminated\n';
    const items = await collect(csvItems(Readable.from([text]), typer));
    assert.equal(items.length, 3);
    assert.deepEqual(items[1], { rowNumber: 2, kind: 'unreadable', raw: '2,b,c', reason: 'expected 2 fields, found 3' });
    assert.equal(items[2]!.kind, 'unreadable');
    assert.match((items[2] as { reason: string }).reason, /never closed/);
  });

  test('quoted fields may span lines, hold commas and escaped quotes; a BOM and blank lines are ignored', async () => {
    const items = await collect(csvItems(Readable.from(['\uFEFFid,zip\n', '\n1,"a,b\n""c"""\n', '\n2,x\n']), typer));
    assert.deepEqual(items.map((i) => (i.kind === 'row' ? i.value : i)), [{ id: 1, zip: 'a,b\n"c"' }, { id: 2, zip: 'x' }]);
    assert.deepEqual(items.map((i) => i.rowNumber), [1, 2]);
  });

  test('a source without a header, or with a duplicate or empty column name, is unreadable as a whole', async () => {
    for (const text of ['', 'id,id\n1,2\n', 'id,,x\n1,2,3\n']) {
      await assert.rejects(collect(csvItems(Readable.from([text]), typer)), (err: { code?: string }) => err.code === 'INGEST_UNREADABLE', JSON.stringify(text));
    }
  });

  test('chunk boundaries inside a line or a multi-byte character do not matter', async () => {
    const text = 'id,zip\n1,zoë☕\n2,ünï\n';
    const bytes = Buffer.from(text);
    const pieces = [...bytes].map((b) => Buffer.from([b]));
    const items = await collect(csvItems(Readable.from(pieces), typer));
    assert.deepEqual(items.map((i) => (i.kind === 'row' ? i.value : null)), [{ id: 1, zip: 'zoë☕' }, { id: 2, zip: 'ünï' }]);
  });
});

describe('JSON Lines items', () => {
  test('each line is parsed on its own; a bad line is unreadable, blank lines are skipped', async () => {
    const items = await collect(jsonLinesItems(Readable.from(['{"a":1}\n\n{bad\n[1]\n"x"\n'])));
    assert.deepEqual(items, [
      { rowNumber: 1, kind: 'row', value: { a: 1 } },
      { rowNumber: 2, kind: 'unreadable', raw: '{bad', reason: items[1]!.kind === 'unreadable' ? items[1]!.reason : '' },
      { rowNumber: 3, kind: 'row', value: [1] },
      { rowNumber: 4, kind: 'row', value: 'x' },
    ]);
  });
});

describe('formats', () => {
  test('media types and file names map to formats', () => {
    assert.equal(formatOfMediaType('text/csv; charset=utf-8'), 'csv');
    assert.equal(formatOfMediaType('application/x-ndjson'), 'jsonl');
    assert.equal(formatOfMediaType('application/vnd.apache.parquet'), 'parquet');
    assert.equal(formatOfMediaType('text/plain'), undefined);
    assert.equal(formatOfFileName('A.CSV'), 'csv');
    assert.equal(formatOfFileName('x.ndjson'), 'jsonl');
    assert.equal(formatOfFileName('x.parquet'), 'parquet');
    assert.equal(formatOfFileName('x.xlsx'), undefined);
  });
});

describe('event time', () => {
  test('values become epoch ms: numbers as they are, ISO date-times (UTC without a zone), dates at midnight UTC', () => {
    assert.equal(eventTimeOf(1_700_000_000_000), 1_700_000_000_000);
    assert.equal(eventTimeOf('2026-01-01T01:00:00+01:00'), Date.UTC(2026, 0, 1));
    assert.equal(eventTimeOf('2026-01-01T00:00:00'), Date.UTC(2026, 0, 1));
    assert.equal(eventTimeOf('2026-01-02'), Date.UTC(2026, 0, 2));
    for (const bad of ['yesterday', '', null, undefined, NaN, Infinity, true, {}]) assert.ok(Number.isNaN(eventTimeOf(bad)), String(bad));
  });

  test('windows are tumbling and aligned to the epoch, negative times included', () => {
    assert.equal(windowStart(0, 60_000), 0);
    assert.equal(windowStart(59_999, 60_000), 0);
    assert.equal(windowStart(60_000, 60_000), 60_000);
    assert.equal(windowStart(-1, 60_000), -60_000);
  });

  test('on time at or after the watermark; late while the window is open; too late once the watermark passed its end plus the lateness', () => {
    const policy = { windowMs: 60_000, allowedLatenessMs: 30_000 };
    assert.equal(timeliness(5, null, policy), 'on_time');
    assert.equal(timeliness(100_000, 100_000, policy), 'on_time');
    // window [60 000, 120 000) closes when the watermark reaches 150 000
    assert.equal(timeliness(60_000, 149_999, policy), 'late');
    assert.equal(timeliness(60_000, 150_000, policy), 'too_late');
    assert.equal(timeliness(119_999, 150_000, policy), 'too_late');
    assert.equal(timeliness(120_000, 150_000, policy), 'late');
  });
});

describe('record keys', () => {
  test('key fields give the same key whatever the field order or other fields; types matter', () => {
    const key = compileRecordKey(['a', 'b']);
    assert.equal(key({ a: 1, b: 'x', c: 9 }), key({ c: 0, b: 'x', a: 1 }));
    assert.equal(key({ a: 12, b: 'x' }), key({ a: 12.0, b: 'x' }));
    assert.notEqual(key({ a: 12, b: 'x' }), key({ a: '12', b: 'x' }));
    assert.notEqual(key({ a: 1, b: 'x,y' }), key({ a: '1,b', b: 'y' }));
    assert.equal(key({ a: null, b: 'x' }), key({ b: 'x' }));
  });

  test('without key fields the whole canonical record is the key', () => {
    const key = compileRecordKey([]);
    assert.equal(key({ a: 1, b: { c: 2, d: 3 } }), key({ b: { d: 3, c: 2 }, a: 1 }));
    assert.notEqual(key({ a: 1 }), key({ a: 1, b: null }));
    assert.match(key({ a: 1 }), /^h:[A-Za-z0-9_-]{43}$/);
  });
});
