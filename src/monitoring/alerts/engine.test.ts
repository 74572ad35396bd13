import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../shared/clock.ts';
import { alertFingerprint, AlertEngine, DEFAULT_RENOTIFY_SECONDS } from './engine.ts';
import type { AlertRule, AlertSample } from './types.ts';

const MIN = 60_000;

function rule(over: Partial<AlertRule> = {}): AlertRule {
  return { name: 'high_error_rate', metric: 'tarmac_error_rate', op: '>', threshold: 0.05, forSeconds: 120, severity: 'critical', channels: ['ops'], ...over };
}

/** An engine on a fake clock, with a helper that feeds one sample per label set observed "now". */
function setup(rules: AlertRule[] = [rule()], options = {}) {
  const clock = new FakeClock();
  const engine = new AlertEngine({ evaluationIntervalSeconds: 60, ...options });
  engine.setRules(rules, clock.now());
  const feed = (values: Array<[number, Record<string, string>?]>, metric = 'tarmac_error_rate') => {
    const samples: AlertSample[] = values.map(([value, labels]) => ({ metric, labels: labels ?? { model: 'credit' }, value, at: clock.now() }));
    return engine.evaluate(samples, clock.now());
  };
  const step = (ms = MIN) => clock.advance(ms);
  return { clock, engine, feed, step };
}

const transitions = (r: { events: { from: string; to: string }[] }) => r.events.map((e) => `${e.from}->${e.to}`);

describe('state machine', () => {
  test('pending while the condition holds for less than `for`, firing after, notified once', () => {
    const { engine, feed, step, clock } = setup();
    const t0 = clock.now();
    let r = feed([[0.1]]);
    assert.deepEqual(transitions(r), ['inactive->pending']);
    assert.equal(r.notices.length, 0);
    assert.equal(engine.active()[0]!.state, 'pending');
    step();
    r = feed([[0.2]]);
    assert.deepEqual(transitions(r), []);
    step();
    r = feed([[0.2]]);
    assert.deepEqual(transitions(r), ['pending->firing']);
    assert.equal(r.events[0]!.value, 0.2);
    assert.equal(r.events[0]!.reason, 'condition');
    assert.equal(r.notices.length, 1);
    const notice = r.notices[0]!;
    assert.equal(notice.alert.status, 'firing');
    assert.equal(notice.alert.repeat, false);
    assert.equal(notice.alert.startsAt, t0 + 2 * MIN);
    assert.deepEqual(notice.channels, ['ops']);
    const [view] = engine.active();
    assert.equal(view!.state, 'firing');
    assert.equal(view!.since, t0 + 2 * MIN);
    assert.equal(view!.activeAt, t0);
    assert.equal(view!.lastNotifiedAt, t0 + 2 * MIN);
  });

  test('`for: 0` fires at the first evaluation that sees the condition', () => {
    const { feed } = setup([rule({ forSeconds: 0 })]);
    const r = feed([[0.1]]);
    assert.deepEqual(transitions(r), ['inactive->firing']);
    assert.equal(r.notices.length, 1);
  });

  test('a tick without samples promotes pending to firing on the last value', () => {
    const { engine, feed, step, clock } = setup();
    feed([[0.1]]);
    step(2 * MIN);
    const r = engine.tick(clock.now());
    assert.deepEqual(transitions(r), ['pending->firing']);
  });

  test('flapping: a condition that stops while pending goes back to inactive without notifying, and `for` starts over', () => {
    const { engine, feed, step, clock } = setup();
    feed([[0.1]]);
    step();
    let r = feed([[0.01]]);
    assert.deepEqual(transitions(r), ['pending->inactive']);
    assert.equal(r.notices.length, 0);
    assert.deepEqual(engine.active(), []);
    step();
    const restart = clock.now();
    r = feed([[0.1]]);
    assert.deepEqual(transitions(r), ['inactive->pending']);
    assert.equal(engine.active()[0]!.activeAt, restart);
    step();
    r = feed([[0.1]]);
    assert.deepEqual(transitions(r), [], 'one minute into the new pending period is not enough');
    step();
    r = feed([[0.1]]);
    assert.deepEqual(transitions(r), ['pending->firing']);
  });

  test('resolves when the condition stops while firing, then starts from inactive again', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 0 })]);
    const t0 = clock.now();
    feed([[0.1]]);
    step();
    const r = feed([[0.01]]);
    assert.deepEqual(transitions(r), ['firing->resolved']);
    assert.equal(r.events[0]!.value, 0.01);
    assert.equal(r.notices.length, 1);
    assert.equal(r.notices[0]!.alert.status, 'resolved');
    assert.equal(r.notices[0]!.alert.startsAt, t0);
    assert.equal(r.notices[0]!.alert.endsAt, t0 + MIN);
    assert.deepEqual(engine.active(), []);
    step();
    assert.deepEqual(transitions(feed([[0.01]])), [], 'inactive stays quiet');
    assert.deepEqual(transitions(feed([[0.3]])), ['inactive->firing']);
  });

  test('an instance whose series stops being reported for longer than 3 × the interval resolves as stale', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 0 })]);
    feed([[0.1]]);
    step(3 * MIN);
    assert.deepEqual(transitions(engine.tick(clock.now())), [], 'exactly the staleness period is still fresh');
    step(1000);
    const r = engine.tick(clock.now());
    assert.deepEqual(transitions(r), ['firing->resolved']);
    assert.equal(r.events[0]!.reason, 'stale');
    assert.equal(r.notices[0]!.alert.status, 'resolved');
  });

  test('a pending instance that goes stale drops back to inactive; the staleness period is configurable', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 600 })], { stalenessSeconds: 30 });
    feed([[0.1]]);
    step(31_000);
    const r = engine.tick(clock.now());
    assert.deepEqual(transitions(r), ['pending->inactive']);
    assert.equal(r.events[0]!.reason, 'stale');
    assert.equal(r.notices.length, 0);
  });

  test('a sample older than the staleness period does not start an instance', () => {
    const { engine, clock } = setup([rule({ forSeconds: 0 })]);
    const r = engine.evaluate([{ metric: 'tarmac_error_rate', labels: {}, value: 1, at: clock.now() - 10 * MIN }], clock.now());
    assert.deepEqual(r.events, []);
  });

  test('re-notifies every `renotifySeconds` while firing, never in between', () => {
    const { feed, step } = setup([rule({ forSeconds: 0, renotifySeconds: 600 })]);
    const sentAt: number[] = [];
    for (let minute = 0; minute <= 25; minute++) {
      const r = feed([[0.1]]);
      for (const n of r.notices) {
        sentAt.push(minute);
        assert.equal(n.alert.repeat, minute !== 0);
      }
      step();
    }
    assert.deepEqual(sentAt, [0, 10, 20]);
  });

  test('the default re-notify interval is 4 hours', () => {
    assert.equal(DEFAULT_RENOTIFY_SECONDS, 4 * 3600);
    const { feed, step } = setup([rule({ forSeconds: 0 })]);
    feed([[0.1]]);
    let notices = 0;
    for (let minute = 1; minute <= 240; minute++) {
      step();
      notices += feed([[0.1]]).notices.length;
    }
    assert.equal(notices, 1, 'one re-notification at exactly 4 h');
  });

  test('de-duplicates: repeated evaluations and repeated samples of one series produce one firing notice', () => {
    const { engine, clock } = setup([rule({ forSeconds: 0 })]);
    let notices = 0;
    let events = 0;
    for (let i = 0; i < 20; i++) {
      const at = clock.now();
      const sample = { metric: 'tarmac_error_rate', labels: { model: 'credit' }, value: 0.2, at };
      const r = engine.evaluate([sample, { ...sample }, { ...sample, labels: { model: 'credit' } }], clock.now());
      notices += r.notices.length;
      events += r.events.length;
      clock.advance(10_000);
    }
    assert.equal(events, 1);
    assert.equal(notices, 1);
  });

  test('comparison operators are exact at the threshold; NaN never fires', () => {
    const cases: Array<[AlertRule['op'], number, boolean]> = [
      ['>', 1, false], ['>', 1.0001, true], ['>=', 1, true], ['<', 1, false], ['<', 0.999, true], ['<=', 1, true],
    ];
    for (const [op, value, fires] of cases) {
      const { feed } = setup([rule({ op, threshold: 1, forSeconds: 0 })]);
      assert.equal(feed([[value]]).events.length, fires ? 1 : 0, `${value} ${op} 1`);
    }
    const { feed } = setup([rule({ op: '<', threshold: 1, forSeconds: 0 })]);
    assert.equal(feed([[Number.NaN]]).events.length, 0);
  });

  test('a late sample (older than the last one seen) is ignored', () => {
    const { engine, clock, step } = setup([rule({ forSeconds: 0 })]);
    engine.evaluate([{ metric: 'tarmac_error_rate', labels: {}, value: 0.2, at: clock.now() }], clock.now());
    step();
    const r = engine.evaluate([{ metric: 'tarmac_error_rate', labels: {}, value: 0.0, at: clock.now() - 2 * MIN }], clock.now());
    assert.deepEqual(r.events, []);
    assert.equal(engine.active()[0]!.value, 0.2);
  });
});

describe('label sets', () => {
  test('the rule selector matches exactly; extra labels on the sample are kept on the instance', () => {
    const { engine, feed } = setup([rule({ forSeconds: 0, labels: { model: 'credit', variant: 'canary' } })]);
    const r = feed([
      [0.5, { model: 'credit', variant: 'stable', version: '3' }],
      [0.5, { model: 'credit', variant: 'canary', version: '4' }],
      [0.5, { model: 'fraud', variant: 'canary', version: '1' }],
      [0.5, { model: 'credit' }],
    ]);
    assert.equal(r.events.length, 1);
    assert.deepEqual(r.events[0]!.labels, { model: 'credit', variant: 'canary', version: '4' });
    assert.equal(engine.active().length, 1);
    assert.deepEqual(feed([[0.5, { model: 'credit', variant: 'canary', version: '4' }]], 'tarmac_other').events, [], 'another metric never matches');
  });

  test('each label set is its own instance with its own state and fingerprint', () => {
    const { engine, feed, step } = setup([rule({ forSeconds: 60 })]);
    const a = { model: 'credit', variant: 'stable' };
    const b = { model: 'credit', variant: 'canary' };
    feed([[0.5, a]]);
    step();
    let r = feed([[0.5, a], [0.5, b]]);
    assert.deepEqual(r.events.map((e) => `${e.labels.variant}:${e.from}->${e.to}`).sort(), ['canary:inactive->pending', 'stable:pending->firing']);
    step();
    r = feed([[0.01, a], [0.5, b]]);
    assert.deepEqual(r.events.map((e) => `${e.labels.variant}:${e.from}->${e.to}`).sort(), ['canary:pending->firing', 'stable:firing->resolved']);
    const active = engine.active();
    assert.equal(active.length, 1);
    assert.equal(active[0]!.fingerprint, alertFingerprint('high_error_rate', b));
    assert.notEqual(alertFingerprint('high_error_rate', a), alertFingerprint('high_error_rate', b));
  });

  test('the fingerprint is stable: independent of label order, different per rule', () => {
    const fp = alertFingerprint('r', { b: '2', a: '1' });
    assert.equal(fp, alertFingerprint('r', { a: '1', b: '2' }));
    assert.match(fp, /^[0-9a-f]{16}$/);
    assert.notEqual(fp, alertFingerprint('s', { a: '1', b: '2' }));
    assert.notEqual(alertFingerprint('r', { a: '1b' }), alertFingerprint('r', { a: '1', b: '' }));
  });

  test('two rules on one metric evaluate independently', () => {
    const { feed } = setup([
      rule({ name: 'warn', threshold: 0.05, forSeconds: 0, severity: 'warning' }),
      rule({ name: 'page', threshold: 0.2, forSeconds: 0 }),
    ]);
    assert.deepEqual(feed([[0.1]]).events.map((e) => e.rule), ['warn']);
    assert.deepEqual(feed([[0.3]]).events.map((e) => e.rule), ['page']);
  });
});

describe('silences', () => {
  test('a silenced instance changes state but its notifications are suppressed, and it is announced when the silence ends', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 0, renotifySeconds: 600 })]);
    const silence = engine.addSilence(
      { matchers: { alertname: 'high_error_rate', model: 'credit' }, endsAt: clock.now() + 5 * MIN, createdBy: 'ana', comment: 'deploying a fix' },
      clock.now(),
    );
    let r = feed([[0.1], [0.1, { model: 'fraud' }]]);
    assert.equal(r.events.length, 2, 'both change state');
    const credit = r.events.find((e) => e.labels.model === 'credit')!;
    const fraud = r.events.find((e) => e.labels.model === 'fraud')!;
    assert.deepEqual(credit.silencedBy, [silence.id]);
    assert.deepEqual(fraud.silencedBy, []);
    assert.deepEqual(r.notices.map((n) => [n.alert.labels.model, n.silencedBy.length]).sort(), [['credit', 1], ['fraud', 0]]);
    assert.deepEqual(engine.active().find((v) => v.labels.model === 'credit')!.silencedBy, [silence.id]);
    assert.equal(engine.active().find((v) => v.labels.model === 'credit')!.lastNotifiedAt, undefined);
    for (let i = 0; i < 4; i++) {
      step();
      r = feed([[0.1], [0.1, { model: 'fraud' }]]);
      assert.equal(r.notices.length, 0, 'no suppressed notice recorded at every evaluation');
    }
    step();
    r = feed([[0.1], [0.1, { model: 'fraud' }]]);
    assert.equal(r.notices.length, 1, 'announced once the silence is over');
    assert.equal(r.notices[0]!.alert.labels.model, 'credit');
    assert.deepEqual(r.notices[0]!.silencedBy, []);
    assert.equal(r.notices[0]!.alert.repeat, false, 'first announcement, not a repeat');
  });

  test('severity and alertname are matchable; a resolution under a silence is suppressed', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 0 })]);
    feed([[0.1]]);
    const s = engine.addSilence({ matchers: { severity: 'critical' }, endsAt: clock.now() + 60 * MIN, createdBy: 'ana', comment: 'maintenance' }, clock.now());
    step();
    const r = feed([[0.0]]);
    assert.deepEqual(transitions(r), ['firing->resolved']);
    assert.deepEqual(r.events[0]!.silencedBy, [s.id]);
    assert.equal(r.notices.length, 1);
    assert.deepEqual(r.notices[0]!.silencedBy, [s.id]);
  });

  test('a resolve of an alert that was never announced (silenced all along) sends nothing', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 0 })]);
    engine.addSilence({ matchers: { alertname: 'high_error_rate' }, endsAt: clock.now() + 60 * MIN, createdBy: 'ana', comment: 'x' }, clock.now());
    feed([[0.1]]);
    step();
    const r = feed([[0.0]]);
    assert.deepEqual(transitions(r), ['firing->resolved']);
    assert.equal(r.notices.length, 0);
  });

  test('a silence starting in the future mutes nothing yet; expiring ends it; silences are listed with their state', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 0 })]);
    const later = engine.addSilence({ matchers: { model: 'credit' }, startsAt: clock.now() + 10 * MIN, endsAt: clock.now() + 20 * MIN, createdBy: 'a', comment: 'b' }, clock.now());
    const now = engine.addSilence({ matchers: { model: 'credit' }, endsAt: new Date(clock.now() + 20 * MIN).toISOString() as unknown as number, createdBy: 'a', comment: 'b' }, clock.now());
    assert.deepEqual(engine.listSilences(clock.now()).map((s) => [s.id, s.state]), [[later.id, 'pending'], [now.id, 'active']]);
    engine.expireSilence(now.id, clock.now());
    assert.equal(engine.listSilences(clock.now()).find((s) => s.id === now.id)!.state, 'expired');
    const r = feed([[0.1]]);
    assert.deepEqual(r.notices[0]!.silencedBy, []);
    step(11 * MIN);
    assert.deepEqual(engine.active()[0]!.silencedBy, [], 'silences are re-checked at evaluation');
    feed([[0.1]]);
    assert.deepEqual(engine.active()[0]!.silencedBy, [later.id]);
    assert.throws(() => engine.expireSilence('nope', clock.now()), (err: { code: string; issues: { rule: string }[] }) => err.code === 'VALIDATION_FAILED' && err.issues[0]!.rule === 'exists');
  });

  test('expired silences are forgotten after the retention period', () => {
    const { engine, clock, step } = setup([rule()], { silenceRetentionSeconds: 3600 });
    const s = engine.addSilence({ matchers: { model: 'x' }, endsAt: clock.now() + MIN, createdBy: 'a', comment: 'b' }, clock.now());
    step(MIN + 3600_000);
    engine.tick(clock.now());
    assert.equal(engine.listSilences(clock.now()).length, 1);
    step(1000);
    engine.tick(clock.now());
    assert.equal(engine.listSilences(clock.now()).find((x) => x.id === s.id), undefined);
  });
});

describe('rule changes', () => {
  test('a removed rule ends its instances; a changed threshold keeps them and applies at the next evaluation', () => {
    const { engine, feed, step, clock } = setup([rule({ forSeconds: 0 }), rule({ name: 'other', forSeconds: 300 })]);
    feed([[0.1]]);
    step();
    let r = engine.setRules([rule({ forSeconds: 0, threshold: 0.08 })], clock.now());
    assert.deepEqual(r.events.map((e) => `${e.rule}:${e.from}->${e.to}:${e.reason}`), ['other:pending->inactive:rule_changed']);
    assert.equal(engine.active().length, 1);
    r = feed([[0.07]]);
    assert.deepEqual(transitions(r), ['firing->resolved'], 'the new threshold applies');
    feed([[0.1]]);
    r = engine.setRules([], clock.now());
    assert.deepEqual(r.events.map((e) => `${e.from}->${e.to}:${e.reason}`), ['firing->resolved:rule_changed']);
    assert.equal(r.notices[0]!.alert.status, 'resolved');
  });

  test('a selector that no longer matches ends the instance', () => {
    const { engine, feed, clock } = setup([rule({ forSeconds: 0 })]);
    feed([[0.1, { model: 'credit' }]]);
    const r = engine.setRules([rule({ forSeconds: 0, labels: { model: 'fraud' } })], clock.now());
    assert.deepEqual(transitions(r), ['firing->resolved']);
  });

  test('an invalid rule set is refused before anything changes', () => {
    const { engine, feed, clock } = setup([rule({ forSeconds: 0 })]);
    feed([[0.1]]);
    assert.throws(() => engine.setRules([rule({ threshold: Number.NaN })], clock.now()), { code: 'VALIDATION_FAILED' });
    assert.equal(engine.listRules().length, 1);
    assert.equal(engine.active().length, 1);
  });
});
