import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { inferContract } from './infer.ts';
import type { InferResult } from './infer.ts';
import { readCsvRows, readJsonLinesRows, splitCsvRecord, typeCsvValue } from './readers.ts';
import { parseContract } from './parse.ts';
import { compileValidator } from './validator.ts';
import type { FieldViolation } from './validator.ts';
import { TarmacError } from '../shared/errors.ts';

const LOANS = '/work/shared/fixtures/data/loans.csv';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Validate rows against the inferred contract; every violation must be a range one outside the 0.1–99.9 % quantiles. */
function checkOnlyTailViolations(r: InferResult, rows: Record<string, unknown>[]): FieldViolation[] {
  const v = compileValidator(r.contract);
  const all = rows.flatMap((row, i) => v.validate(row, `/${i}`));
  for (const x of all) {
    assert.ok(x.rule === 'minimum' || x.rule === 'maximum', `unexpected violation ${JSON.stringify(x)}`);
    const s = r.stats.columns[x.name]!;
    const value = x.value as number | string;
    if (x.rule === 'minimum') assert.ok(value < s.q001!, `${x.name}: ${String(value)} is not below the 0.1% quantile`);
    else assert.ok(value > s.q999!, `${x.name}: ${String(value)} is not above the 99.9% quantile`);
  }
  return all;
}

test('infer from loans.csv: types, enums, ranges; the YAML round-trips and validates the sample', async () => {
  const r = await inferContract(readCsvRows(LOANS), { name: 'loans' });
  assert.equal(r.stats.rowsRead, 5000);
  assert.equal(r.stats.truncated, false);
  // The YAML is ODCS v3.1 and parses back into exactly the returned contract.
  const doc = parseYaml(r.yaml) as Record<string, unknown>;
  assert.equal(doc.apiVersion, 'v3.1.0');
  assert.equal(doc.kind, 'DataContract');
  assert.equal(doc.version, '1.0.0');
  assert.equal(doc.status, 'draft');
  assert.deepEqual(parseContract(r.yaml), r.contract);
  assert.deepEqual(r.contract.warnings, []);

  const f = Object.fromEntries(r.contract.fields.map((x) => [x.name, x]));
  assert.deepEqual(r.contract.fields.map((x) => x.name),
    ['income', 'loan_amount', 'age', 'credit_history_years', 'debt_ratio', 'employment_type', 'region', 'default']);
  assert.deepEqual(r.contract.fields.map((x) => x.logicalType),
    ['integer', 'integer', 'integer', 'number', 'number', 'string', 'string', 'integer']);
  assert.ok(r.contract.fields.every((x) => x.required));
  assert.deepEqual(f.employment_type!.validValues, ['contractor', 'salaried', 'self_employed', 'unemployed']);
  assert.deepEqual(f.region!.validValues, ['act', 'nsw', 'nt', 'qld', 'sa', 'tas', 'vic', 'wa']);
  assert.equal(f.employment_type!.maxLength, 'self_employed'.length);
  assert.equal(f.default!.minimum, 0);
  assert.equal(f.default!.maximum, 1);
  assert.equal(f.default!.validValues, undefined);
  // exact extremes are in the description; bounds enclose the quantiles
  const income = r.stats.columns.income!;
  const incomeProp = ((doc.schema as { properties: { name: string; description: string }[] }[])[0]!.properties)[0]!;
  assert.match(incomeProp.description, new RegExp(`min ${String(income.min)}, max ${String(income.max)}`));
  assert.ok((f.income!.minimum as number) <= (income.q001 as number));
  assert.ok((f.income!.maximum as number) >= (income.q999 as number));

  const rows = await collect(readCsvRows(LOANS));
  const violations = checkOnlyTailViolations(r, rows);
  assert.ok(violations.length > 0, 'the heavy-tailed income column has values beyond the 99.9% quantile');
  assert.ok(violations.length <= 0.002 * 5000 * 8, `${violations.length} tail violations`);
});

test('infer from JSON Lines: every type, nulls, empties, missing keys, enum rules', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tarmac-infer-'));
  try {
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const row: Record<string, unknown> = {
        id: i,
        score: i % 10 === 0 ? null : i / 8,
        ok: i % 3 === 0,
        day: `2024-03-${String((i % 28) + 1).padStart(2, '0')}`,
        at: `2024-03-01T10:${String(i % 60).padStart(2, '0')}:00.5+02:00`,
        colour: ['red', 'green', 'blue'][i % 3],
        city: i === 7 ? 'Zürich 🏔' : ['Oslo', 'Lima'][i % 2],
        word: `w${i}`,
        note: i % 4 === 0 ? '' : 'x',
        tags: ['a'],
        meta: { k: i },
        mixed: i % 2 === 0 ? 1 : 'one',
      };
      if (i >= 50) row.late = 'y'; // a column that appears only later: missing = null before
      rows.push(row);
    }
    const path = join(dir, 'sample.jsonl');
    writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n\n');
    const r = await inferContract(readJsonLinesRows(path), { name: 'Sample Events' });
    assert.equal(r.contract.id, 'sample-events');
    assert.equal(r.contract.name, 'Sample Events');
    assert.deepEqual(parseContract(r.yaml), r.contract);
    const f = Object.fromEntries(r.contract.fields.map((x) => [x.name, x]));
    const types = Object.fromEntries(r.contract.fields.map((x) => [x.name, x.logicalType]));
    assert.deepEqual(types, {
      id: 'integer', score: 'number', ok: 'boolean', day: 'date', at: 'timestamp', colour: 'string', city: 'string',
      word: 'string', note: 'string', tags: 'array', meta: 'object', mixed: 'string', late: 'string',
    });
    assert.equal(f.id!.required, true);
    assert.equal(f.score!.required, false);
    assert.equal(f.note!.required, false, 'empty strings make a field optional');
    assert.equal(f.late!.required, false);
    // null limits a bit above the observed rate (score: 10%, late: 25%)
    assert.equal(r.stats.columns.score!.nulls, 20);
    assert.ok(f.score!.maxNullFraction! > 0.1 && f.score!.maxNullFraction! <= 0.15, String(f.score!.maxNullFraction));
    assert.equal(f.score!.nullLimitExclusive, true);
    assert.ok(f.late!.maxNullFraction! > 0.25 && f.late!.maxNullFraction! <= 0.33);
    assert.equal(f.id!.maxNullFraction, undefined);
    // enums: colour yes; city no (Zürich seen once); word no (too many values); note has '' and 'x'
    assert.deepEqual(f.colour!.validValues, ['blue', 'green', 'red']);
    assert.equal(f.city!.validValues, undefined);
    assert.equal(f.city!.maxLength, 'Zürich 🏔'.length - 1, 'maxLength counts code points');
    assert.equal(f.word!.validValues, undefined);
    assert.deepEqual(f.note!.validValues, ['', 'x']);
    assert.equal(f.ok!.validValues, undefined);
    // date and timestamp ranges
    assert.equal(f.day!.minimum, '2024-03-01');
    assert.equal(f.day!.maximum, '2024-03-28');
    assert.equal(f.at!.minimum, '2024-03-01T08:00:00Z');
    assert.equal(f.at!.maximum, '2024-03-01T08:59:01Z');
    assert.equal(f.id!.minimum, 0);
    assert.equal(f.id!.maximum, 199);
    assert.match(r.yaml, /mixed types in the sample \(number, string\)/);
    assert.match(r.yaml, /minimum: "2024-03-01"/, 'dates are quoted for YAML 1.1 readers');

    // every sample row validates, except the mixed column (typed string) and range tails
    const noMixed = rows.map(({ mixed: _m, ...rest }) => rest);
    const withoutMixed = { ...r, contract: { ...r.contract, fields: r.contract.fields.filter((x) => x.name !== 'mixed') } };
    checkOnlyTailViolations(withoutMixed, noMixed);
    // enumMaxDistinct governs enums
    const r2 = await inferContract(rows, { name: 's', enumMaxDistinct: 2 });
    assert.equal(r2.contract.fields.find((x) => x.name === 'colour')!.validValues, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sampleSize stops reading; sync iterables; empty input; all-null column', async () => {
  let pulled = 0;
  function* gen() {
    for (let i = 0; i < 1000; i++) {
      pulled++;
      yield { n: i, nothing: null };
    }
  }
  const r = await inferContract(gen(), { name: 'g', sampleSize: 10 });
  assert.equal(r.stats.rowsRead, 10);
  assert.equal(r.stats.truncated, true);
  assert.equal(pulled, 11);
  assert.equal(r.contract.fields[0]!.maximum, 9);
  const nothing = r.contract.fields[1]!;
  assert.equal(nothing.logicalType, 'string');
  assert.equal(nothing.required, false);
  assert.equal(nothing.maxNullFraction, undefined);

  const empty = await inferContract([], { name: 'empty' });
  assert.equal(empty.stats.rowsRead, 0);
  assert.deepEqual(empty.contract.fields, []);
  assert.deepEqual(parseContract(empty.yaml).fields, []);
});

test('numeric bounds are rounded outward', async () => {
  const rows = Array.from({ length: 1000 }, (_, i) => ({ x: 1.2345 + i * 0.01, big: 1e15 + i * 1e9, neg: -3.14159 - i }));
  const r = await inferContract(rows, { name: 'r' });
  const f = Object.fromEntries(r.contract.fields.map((x) => [x.name, x]));
  for (const name of ['x', 'big', 'neg']) {
    const s = r.stats.columns[name]!;
    assert.ok((f[name]!.minimum as number) <= (s.q001 as number), name);
    assert.ok((f[name]!.maximum as number) >= (s.q999 as number), name);
  }
  assert.equal(f.x!.minimum, 1.23);
  assert.equal(f.x!.maximum, 11.23);
  assert.equal(f.neg!.minimum, -1003);
  assert.equal(f.neg!.maximum, -3);
});

test('typeCsvValue', () => {
  const cases: [string, unknown][] = [
    ['', null], ['true', true], ['false', false], ['TRUE', 'TRUE'], ['0', 0], ['-12', -12], ['8.70', 8.7], ['10.0', 10],
    ['0.0000001', 1e-7], ['007', '007'], ['1e3', '1e3'], ['0x1F', '0x1F'], ['.5', '.5'], ['5.', '5.'], [' 5', ' 5'],
    ['12345678901234567890', '12345678901234567890'], ['9007199254740993', '9007199254740993'], ['NaN', 'NaN'],
    ['Infinity', 'Infinity'], ['abc', 'abc'],
  ];
  for (const [s, v] of cases) assert.deepEqual(typeCsvValue(s), v, JSON.stringify(s));
});

test('CSV: RFC 4180 quoting, CRLF, BOM, multi-line fields; errors name the line', async () => {
  assert.deepEqual(splitCsvRecord('a,"b,c","d ""e""",'), ['a', 'b,c', 'd "e"', '']);
  assert.equal(splitCsvRecord('a,"b'), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'tarmac-csv-'));
  try {
    const p = join(dir, 'a.csv');
    writeFileSync(p, '\ufeffid,text,n\r\n1,"hello, ""world""",2.50\r\n2,"line one\r\nline two",\r\n3,,true\r\n\r\n4,plain,-1\r\n');
    assert.deepEqual(await collect(readCsvRows(p)), [
      { id: 1, text: 'hello, "world"', n: 2.5 },
      { id: 2, text: 'line one\nline two', n: null },
      { id: 3, text: null, n: true },
      { id: 4, text: 'plain', n: -1 },
    ]);
    const bad = join(dir, 'b.csv');
    writeFileSync(bad, 'a,b\n1,2\n3,"x\ny",4\n');
    await assert.rejects(collect(readCsvRows(bad)), (e: unknown) => {
      assert.ok(e instanceof TarmacError);
      assert.match(e.message, /line 3: expected 2 fields, found 3/);
      return true;
    });
    writeFileSync(bad, 'a,b\n1,"2\n');
    await assert.rejects(collect(readCsvRows(bad)), /line 2: a quoted field is never closed/);
    writeFileSync(bad, 'a,a\n1,2\n');
    await assert.rejects(collect(readCsvRows(bad)), /line 1: the header names column "a" twice/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('JSON Lines: a bad line is reported with its number', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tarmac-jsonl-'));
  try {
    const p = join(dir, 'a.jsonl');
    writeFileSync(p, '{"a":1}\n\n{"a":2}\n{"a":\n');
    await assert.rejects(collect(readJsonLinesRows(p)), (e: unknown) => {
      assert.ok(e instanceof TarmacError);
      assert.match(e.message, /line 4: not valid JSON/);
      assert.equal(e.issues[0]!.field, 'line 4');
      return true;
    });
    writeFileSync(p, '{"a":1}\n[1,2]\n');
    await assert.rejects(collect(readJsonLinesRows(p)), /line 2: expected a JSON object, got an array/);
    writeFileSync(p, '{"a":1}\r\n{"a":"é"}\r\n');
    assert.deepEqual(await collect(readJsonLinesRows(p)), [{ a: 1 }, { a: 'é' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
