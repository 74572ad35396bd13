import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newTimeOrderedId, randomAlphanumeric } from './ids.ts';

test('time-ordered ids are RFC 9562 version-7 UUIDs that sort by creation time', async () => {
  const first = newTimeOrderedId();
  assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const ms = parseInt(first.slice(0, 8) + first.slice(9, 13), 16);
  assert.ok(Math.abs(ms - Date.now()) < 1000);
  await new Promise((r) => setTimeout(r, 3));
  assert.ok(newTimeOrderedId() > first);
  assert.equal(new Set(Array.from({ length: 1000 }, newTimeOrderedId)).size, 1000);
});

test('random alphanumeric ids have only letters and digits', () => {
  for (let i = 0; i < 200; i++) assert.match(randomAlphanumeric(12), /^[A-Za-z0-9]{12}$/);
});
