import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordSpansOfValidBody, scanJson } from './json-scan.ts';

const records = (text: string): string[] | undefined => scanJson(text, 64).records?.map(([s, e]) => text.slice(s, e));

test('the spans are each top-level record as sent, whitespace and all', () => {
  const text = '{ "records" : [ {"a": 1, "b": "x}]"} ,{"a": [1, {"c": 2}], "s": "\\"{"}\n] }';
  assert.deepEqual(records(text), ['{"a": 1, "b": "x}]"}', '{"a": [1, {"c": 2}], "s": "\\"{"}']);
  assert.deepEqual(records(text)!.map((r) => JSON.parse(r) as unknown), (JSON.parse(text) as { records: unknown[] }).records);
  assert.deepEqual(records('{"records":[]}'), []);
  assert.deepEqual(records('{"subjects":["s1"],"records":[{"x":1}]}'), ['{"x":1}']);
});

test('only the top-level "records" key counts, and the last one when written twice', () => {
  assert.equal(records('{"other": {"records": [{"a": 1}]}}'), undefined);
  assert.equal(records('{"a": "records", "b": [{"x": 1}]}'), undefined, 'a value spelt "records" is not the key');
  assert.deepEqual(records('{"records": [{"a": 1}], "records": [{"a": 2}, {"a": 3}]}'), ['{"a": 2}', '{"a": 3}']);
  assert.equal(records('{"records": 5}'), undefined);
  assert.equal(records('{"recordsX": [{"a": 1}]}'), undefined);
  assert.equal(records('[{"records": [{"a": 1}]}]'), undefined, 'not at the top level of an object');
});

test('an array with anything but objects gives no spans', () => {
  for (const text of ['{"records": [{"a": 1}, 2]}', '{"records": [{"a": 1}, "x"]}', '{"records": [[1]]}', '{"records": [null]}', '{"records": [true, {"a": 1}]}']) {
    assert.equal(records(text), undefined, text);
  }
});

test('depth: more than the limit stops the scan; brackets inside strings do not count', () => {
  assert.equal(scanJson('[[[[1]]]]', 4).tooDeep, false);
  assert.equal(scanJson('[[[[[1]]]]]', 4).tooDeep, true);
  assert.equal(scanJson('{"a": "[[[[[[[[[[[["}', 2).tooDeep, false);
  assert.equal(scanJson('{"records": [{"a": {"b": {"c": 1}}}]}', 4).tooDeep, true);
});

/** What recordSpansOfValidBody gives for a body JSON.parse accepts (its records count from the parse). */
const quickRecords = (text: string): string[] | undefined => {
  const count = (JSON.parse(text) as { records: unknown[] }).records.length;
  return recordSpansOfValidBody(text, count)?.map(([s, e]) => text.slice(s, e));
};

test('recordSpansOfValidBody: the same spans as the full scan when no string holds a brace', () => {
  for (const text of [
    '{"records":[{"f0":1.5,"f1":-2}]}',
    ' {\n "records" : [ {"a": 1, "b": "x]["} ,{"a": 2, "s": "\\"q"}\n] } ',
    '{"subjects":["s1", null],"records":[{"x":1},{"x":2}]}',
    '{"records": 5, "records": [{"a": 2}, {"a": 3}]}',
    '{"records":[{}]}',
  ]) {
    assert.deepEqual(quickRecords(text), records(text), text);
    assert.deepEqual(quickRecords(text)!.map((r) => JSON.parse(r) as unknown), (JSON.parse(text) as { records: unknown[] }).records, text);
  }
});

test('recordSpansOfValidBody: a brace inside a string, or records written twice, leaves it to the full scan', () => {
  for (const text of [
    '{"records":[{"a":"}"}]}',
    '{"records":[{"a":"{"}]}',
    '{"records":[{"a{":1}]}',
    '{"records":[{"a":"}","b":"{"}]}',
    '{"records": [{"a": 1}], "records": [{"a": 2}]}',
    '{"records": [{"a": 1}, {"a": 2}], "records": [{"a": 3}]}',
  ]) {
    assert.equal(quickRecords(text), undefined, text);
  }
  assert.equal(recordSpansOfValidBody('{"records":[{"a":1}]}', 2), undefined, 'fewer records than the count');
});
