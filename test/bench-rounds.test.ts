import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, medianRound, pairedRatio, pairedRatios, type RoundMeasurement } from '../bench/rounds.ts';

// The paired-round arithmetic of bench/perf.bench.ts: rows are median rounds, ratios are medians of per-round ratios.

type M = RoundMeasurement & { p99: number };

const m = (server: string, round: number | undefined, reqPerSec: number, p99 = 1, connections = 16): M => ({
  model: 'lr30', server, case: 'single', connections, reqPerSec, p99, ...(round === undefined ? {} : { round }),
});

test('median: odd, even, empty and non-finite values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), undefined);
  assert.equal(median([Number.NaN, Infinity, 5]), 5);
});

test('medianRound keeps the whole measurement with the median req/s (the lower middle one for an even count)', () => {
  const rounds = [m('bare', 1, 300, 9), m('bare', 2, 100, 7), m('bare', 3, 200, 8)];
  assert.equal(medianRound(rounds), rounds[2]);
  assert.equal(medianRound(rounds.slice(0, 2)), rounds[1]);
  assert.equal(medianRound([]), undefined);
});

test('pairedRatio is the median of the per-round ratios, not the ratio of the medians', () => {
  const rounds = [
    m('bare', 1, 100), m('tarmac', 1, 90),
    m('bare', 2, 200), m('tarmac', 2, 100),
    m('bare', 3, 100), m('tarmac', 3, 80),
  ];
  const reqPerSec = (x: M): number => x.reqPerSec;
  assert.deepEqual(pairedRatios(rounds, 'lr30', 'single', 16, 'tarmac', 'bare', reqPerSec), [0.9, 0.5, 0.8]);
  assert.equal(pairedRatio(rounds, 'lr30', 'single', 16, 'tarmac', 'bare', reqPerSec), 0.8);
  // The ratio of the medians (90 / 100) would say 0.9.
  assert.equal(medianRound(rounds.filter((x) => x.server === 'tarmac'))!.reqPerSec / medianRound(rounds.filter((x) => x.server === 'bare'))!.reqPerSec, 0.9);
});

test('pairedRatios pairs by round number and leaves out unpaired rounds, other keys and zero denominators', () => {
  const rounds = [
    m('tarmac', 2, 50, 4), m('bare', 1, 100, 2), m('tarmac', 1, 80, 3), m('bare', 2, 100, 0),
    m('tarmac', 3, 70), m('bare', undefined, 1), m('tarmac', undefined, 1),
    m('bare', 1, 1, 1, 64), m('tarmac', 1, 1, 1, 64),
  ];
  assert.deepEqual(pairedRatios(rounds, 'lr30', 'single', 16, 'tarmac', 'bare', (x) => x.reqPerSec), [0.8, 0.5]);
  assert.deepEqual(pairedRatios(rounds, 'lr30', 'single', 16, 'tarmac', 'bare', (x) => x.p99), [1.5]);
  assert.equal(pairedRatio(rounds, 'lr30', 'batch-32', 16, 'tarmac', 'bare', (x) => x.reqPerSec), undefined);
});
