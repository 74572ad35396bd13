import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TarmacError } from '../../shared/errors.ts';
import { parseRule, parseRules, parseSilence } from './validation.ts';

function issuesOf(fn: () => unknown): Array<[string, string]> {
  try {
    fn();
  } catch (err) {
    const e = err as TarmacError;
    assert.equal(e.code, 'VALIDATION_FAILED');
    return e.issues.map((i) => [i.field, i.rule]);
  }
  assert.fail('expected VALIDATION_FAILED');
}

const good = { name: 'p99_latency', metric: 'tarmac_latency_p99_seconds', op: '>', threshold: 0.25, forSeconds: 300, severity: 'warning', channels: ['ops'] };

describe('rule validation', () => {
  test('a good rule is returned normalised, optional fields kept', () => {
    const r = parseRule({ ...good, labels: { model: 'credit' }, renotifySeconds: 3600, description: 'slow' });
    assert.deepEqual(r, { ...good, labels: { model: 'credit' }, renotifySeconds: 3600, description: 'slow' });
  });

  test('names every bad field with its rule', () => {
    const issues = issuesOf(() => parseRule({
      name: '9bad name', metric: 'tarmac-x', labels: { 'bad-key': 'x', ok: 3 }, op: '==', threshold: Infinity,
      forSeconds: -1, severity: 'page', renotifySeconds: 0, channels: ['ops', 'ops', ''], description: 5, for: '5m',
    }));
    assert.deepEqual(issues.sort(), [
      ['/channels/1', 'unique'],
      ['/channels/2', 'type'],
      ['/description', 'type'],
      ['/for', 'unknown_field'],
      ['/forSeconds', 'range'],
      ['/labels/bad-key', 'pattern'],
      ['/labels/ok', 'type'],
      ['/metric', 'pattern'],
      ['/name', 'pattern'],
      ['/op', 'enum'],
      ['/renotifySeconds', 'range'],
      ['/severity', 'enum'],
      ['/threshold', 'finite'],
    ]);
  });

  test('required fields are named; a non-object is refused', () => {
    assert.deepEqual(issuesOf(() => parseRule({})).sort(), [
      ['/channels', 'required'], ['/forSeconds', 'required'], ['/metric', 'required'], ['/name', 'required'],
      ['/op', 'required'], ['/severity', 'required'], ['/threshold', 'required'],
    ]);
    assert.deepEqual(issuesOf(() => parseRule({ ...good, channels: [] })), [['/channels', 'min_items']]);
    assert.deepEqual(issuesOf(() => parseRule('x')), [['/', 'type']]);
  });

  test('a rule set: indexed paths, unique names, known channels', () => {
    assert.deepEqual(issuesOf(() => parseRules([good, { ...good, threshold: 'x' }, good, { ...good, name: 'b', channels: ['ops', 'pager'] }], new Set(['ops']))), [
      ['/1/threshold', 'type'],
      ['/2/name', 'unique'],
      ['/3/channels/1', 'unknown_channel'],
    ]);
    assert.deepEqual(issuesOf(() => parseRules({})), [['/', 'type']]);
    assert.equal(parseRules([good], new Set(['ops'])).length, 1);
  });
});

describe('silence validation', () => {
  const now = Date.UTC(2026, 0, 1);
  test('a good silence gets an id and starts now by default; ISO instants are accepted', () => {
    const s = parseSilence({ matchers: { alertname: 'x' }, endsAt: '2026-01-01T01:00:00Z', createdBy: 'ana', comment: 'fix' }, now);
    assert.match(s.id, /^[0-9a-f-]{36}$/);
    assert.equal(s.startsAt, now);
    assert.equal(s.endsAt, now + 3600_000);
  });

  test('names every bad field', () => {
    assert.deepEqual(issuesOf(() => parseSilence({ matchers: {}, startsAt: now + 10, endsAt: now + 5, createdBy: '', extra: 1 }, now)).sort(), [
      ['/comment', 'required'], ['/createdBy', 'empty'], ['/endsAt', 'range'], ['/extra', 'unknown_field'], ['/matchers', 'empty'],
    ]);
    assert.deepEqual(issuesOf(() => parseSilence({ matchers: { a: 'b' }, startsAt: now - 100, endsAt: now - 1, createdBy: 'a', comment: 'b' }, now)), [['/endsAt', 'range']]);
    assert.deepEqual(issuesOf(() => parseSilence({ matchers: { a: 1 }, endsAt: 'soon', createdBy: 'a', comment: 'b' }, now)).sort(), [['/endsAt', 'type'], ['/matchers/a', 'type']]);
    assert.deepEqual(issuesOf(() => parseSilence({ createdBy: 'a', comment: 'b' }, now)).sort(), [['/endsAt', 'required'], ['/matchers', 'required']]);
  });
});
