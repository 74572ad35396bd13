import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { PredictionRecord } from '../store/index.ts';
import { SpareTextBuffers, decodePredictionRows, encodePredictionRows, transferablesOf, unpackTexts } from './prediction-rows-codec.ts';

const row = (i: number, inputs: unknown, over: Partial<PredictionRecord> = {}): PredictionRecord => ({
  id: `id-${i}`, model: 'm', version: 3, variant: 'stable', requestId: `req-${i}`, createdAt: 1_700_000_000_000 + i,
  inputs, outputs: { prediction: i % 2, probabilities: { 0: 0.25, 1: 0.75 } }, latencyMs: 0.125 * i, ...over,
});

/** Sends an encoding through a real MessagePort (structured clone and transfer), as the writer thread receives it. */
function roundTrip(rows: PredictionRecord[]): PredictionRecord[] {
  const { port1, port2 } = new MessageChannel();
  const encoded = encodePredictionRows(rows);
  port1.postMessage(encoded, transferablesOf(encoded));
  const received = receiveMessageOnPort(port2)!.message;
  port1.close();
  return decodePredictionRows(received);
}

test('rows come back with the same fields and the same JSON, in order', () => {
  const rows = [
    row(0, { a: 1.5, b: -0.000123456789012345, c: 'x', d: null, e: true }),
    row(1, { a: 2, b: 1e300, c: 'y', d: 7, e: false }, { model: 'other', variant: 'canary', version: 9 }),
    row(2, { a: 3, b: 4, c: 'z' }), // a key missing: irregular
    row(3, { b: 4, a: 3, c: 'z', d: null, e: true }), // another order: irregular
    row(4, { a: [1, 2], b: 1, c: 'z', d: null, e: true }), // a nested value: irregular
    row(5, [1, 2, 3]),
    row(6, null),
    row(7, { a: 8, b: 9, c: 'w', d: 'text in a numeric column', e: true }),
  ];
  const back = roundTrip(rows);
  assert.equal(back.length, rows.length);
  for (let i = 0; i < rows.length; i++) {
    assert.deepEqual(back[i], rows[i]);
    assert.equal(JSON.stringify(back[i]!.inputs), JSON.stringify(rows[i]!.inputs));
  }
});

test('a first row that is not a plain object leaves the layout to the next one; __proto__ never becomes a key', () => {
  const poisoned = JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}') as unknown;
  const rows = [row(0, 'a string'), row(1, { x: 1, y: 2 }), row(2, { x: 3, y: 4 }), row(3, poisoned)];
  const back = roundTrip(rows);
  assert.deepEqual(back.slice(0, 3), rows.slice(0, 3));
  assert.equal(JSON.stringify(back[3]!.inputs), JSON.stringify(poisoned));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const layout = encodePredictionRows([row(0, poisoned), row(1, poisoned)]);
  assert.deepEqual(layout.keys, [], 'a layout with __proto__ is not used');
  assert.equal(layout.irregular.length, 2);
});

test('an empty batch encodes and decodes to nothing', () => {
  assert.deepEqual(roundTrip([]), []);
});

test('inputs sent as JSON text travel as that text; the values are parsed only when asked for', () => {
  const text = '{"a": 1.50, "b": "x",  "c": null}';
  const rows = [row(0, { a: 1.5, b: 'x', c: null }, { inputsJson: text }), row(1, { a: 2, b: 'y', c: 1 })];
  const encoded = encodePredictionRows(rows);
  assert.deepEqual([...unpackTexts(encoded.texts)], [[0, text]]);
  assert.equal(encoded.irregular.length, 0);
  const back = roundTrip(rows);
  assert.equal(back[0]!.inputsJson, text, 'stored verbatim');
  assert.deepEqual(back[0]!.inputs, { a: 1.5, b: 'x', c: null });
  assert.deepEqual(back[1], rows[1]);
});

test('texts of any script survive the UTF-8 buffer, in order, between rows without text', () => {
  const texts = ['{"name": "Zoë", "city": "Kraków"}', '{"note": "日本語のテキスト"}', '{"emoji": "🚀🚀", "esc": "\\u0041\\n"}', '{}'];
  const rows = [
    row(0, { name: 'Zoë', city: 'Kraków' }, { inputsJson: texts[0] }),
    row(1, { a: 1 }),
    row(2, { note: '日本語のテキスト' }, { inputsJson: texts[1] }),
    row(3, { emoji: '🚀🚀', esc: 'A\n' }, { inputsJson: texts[2] }),
    row(4, {}, { inputsJson: texts[3] }),
  ];
  const back = roundTrip(rows);
  assert.deepEqual([0, 2, 3, 4].map((i) => back[i]!.inputsJson), texts);
  assert.deepEqual(back[3]!.inputs, { emoji: '🚀🚀', esc: 'A\n' });
  assert.deepEqual(back[1], rows[1]);
});

test('a spare texts buffer given back is reused for the next batch; one too small is not', () => {
  const buffers = new SpareTextBuffers(2, 1024);
  const text = JSON.stringify({ a: 1.25, b: 'x' });
  const first = encodePredictionRows([row(0, null, { inputsJson: text }), row(1, null, { inputsJson: text })], buffers);
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(first, transferablesOf(first));
  const received = receiveMessageOnPort(port2)!.message as typeof first;
  port1.close();
  assert.equal(first.texts.bytes.byteLength, 0, 'the buffer moved to the receiver');
  assert.equal(decodePredictionRows(received)[1]!.inputsJson, text);
  const spare = received.texts.bytes.buffer as ArrayBuffer;
  buffers.give(spare);
  const second = encodePredictionRows([row(2, null, { inputsJson: text })], buffers);
  assert.equal(second.texts.bytes.buffer, spare, 'the given-back buffer is written again');
  assert.equal(decodePredictionRows(second)[0]!.inputsJson, text);
  buffers.give(new ArrayBuffer(8));
  const big = 'x'.repeat(4000);
  const third = encodePredictionRows([row(3, null, { inputsJson: JSON.stringify(big) })], buffers);
  assert.ok(third.texts.bytes.buffer.byteLength >= 12_000, 'a buffer large enough for the worst case is allocated');
  assert.equal(decodePredictionRows(third)[0]!.inputsJson, JSON.stringify(big));
});
