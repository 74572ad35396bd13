import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMonitorReport } from './build-report.ts';
import { escapeHtml, formatCount, formatNumber, formatPercent, formatValue, truncate } from './format.ts';
import { chartBins, renderMonitorReportHtml } from './render-html.ts';
import { fixtureInput, HOSTILE_CATEGORY, HOSTILE_FEATURE } from './report-fixture.ts';
import type { FeatureReport } from './types.ts';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'wbr']);

/** Every opened tag is closed, in order (void elements and `/>` excepted); returns the problems found. */
function unbalancedTags(html: string): string[] {
  const text = html.replace(/<style>[\s\S]*?<\/style>/g, '').replace(/<!DOCTYPE html>/, '');
  const problems: string[] = [];
  const stack: string[] = [];
  for (const m of text.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
    const [, closing, rawName, , selfClosing] = m;
    const name = rawName!.toLowerCase();
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}> at ${m.index}`);
    } else if (!selfClosing && !VOID.has(name)) stack.push(name);
  }
  for (const open of stack) problems.push(`<${open}> never closed`);
  if (/<(?![a-zA-Z/!])/.test(text)) problems.push('a bare < in text');
  return problems;
}

test('the tag checker itself catches what it should', () => {
  assert.deepEqual(unbalancedTags('<div><p>x</p></div><meta charset="utf-8"><line x="1"/>'), []);
  assert.equal(unbalancedTags('<div><span></div>').length, 2);
  assert.equal(unbalancedTags('<p>a < b</p>').length, 1);
  assert.equal(unbalancedTags('<p title="a>b">x</p>').length, 0);
});

function render(options: Parameters<typeof fixtureInput>[0] = {}): string {
  return renderMonitorReportHtml(buildMonitorReport(fixtureInput(options)));
}

test('the page is balanced, self-contained and shows every feature', () => {
  const html = render({ windows: 8, variants: ['stable', 'canary'] });
  assert.deepEqual(unbalancedTags(html), []);
  assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'));
  assert.ok(!/<script/i.test(html));
  assert.ok(!/\b(src|href)="(https?:)?\/\//i.test(html), 'nothing is loaded from elsewhere');
  assert.ok(!/@import|url\(/i.test(html));
  for (const name of ['age', 'income', 'city', 'output.prediction', 'output.confidence']) assert.ok(html.includes(`>${name}</a>`), name);
  assert.match(html, /<h1>Monitoring report: credit-risk<\/h1>/);
  assert.match(html, /train\.csv \(2\u202f000 rows\)/);
  assert.match(html, /2024-05-01 08:00 UTC – 2024-05-01 08:40 UTC/);
  assert.match(html, /Latest statistic/);
  assert.match(html, /<span class="badge drift">drifted<\/span>/);
  assert.match(html, /stroke-dasharray="5 4"/, 'thresholds are dashed lines');
  assert.match(html, /<ul class="legend">.*v3 canary.*v3 stable/s, 'two variants get a legend');
  assert.match(html, /<h2 id="quality-h">Data quality over time<\/h2>/);
  assert.match(html, /<h2 id="performance-h">Performance over time<\/h2>/);
  assert.match(html, /<h2 id="dataset-drift-h">Dataset drift over time<\/h2>/);
  // Charts are accessible images, each named.
  const svgs = html.match(/<svg class="chart"[^>]*>/g) ?? [];
  assert.ok(svgs.length >= 5 * 2);
  for (const s of svgs) assert.match(s, /role="img" aria-labelledby="[\w-]+-t [\w-]+-d"/);
  assert.equal((html.match(/<title id="/g) ?? []).length, svgs.length);
  const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
});

test('names and categories from data are escaped', () => {
  const report = buildMonitorReport(fixtureInput({ windows: 6, hostileNames: true }));
  assert.ok(report.features.some((f) => f.name === HOSTILE_FEATURE));
  assert.ok(report.features.find((f) => f.name === 'city')!.histogram.bins.includes(HOSTILE_CATEGORY));
  const html = renderMonitorReportHtml({ ...report, model: '<b>m</b>', reference: { source: '"><script>x()</script>', rows: 1 } });
  assert.ok(!/<script/i.test(html));
  assert.ok(!html.includes('<img'));
  assert.ok(!html.includes('<b>m</b>'));
  assert.ok(html.includes(escapeHtml(HOSTILE_FEATURE)));
  assert.ok(html.includes(escapeHtml(HOSTILE_CATEGORY).slice(0, 40)));
  assert.ok(html.includes('&lt;b&gt;m&lt;/b&gt;'));
  assert.deepEqual(unbalancedTags(html), []);
});

test('escapeHtml escapes markup, quotes and control characters', () => {
  assert.equal(escapeHtml('<script>alert("x")</script>'), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  assert.equal(escapeHtml(`a&b 'c'`), 'a&amp;b &#39;c&#39;');
  assert.equal(escapeHtml('&lt;'), '&amp;lt;');
  assert.equal(escapeHtml('a\u0000b\u001bc\nd\te'), 'a\ufffdb\ufffdc\nd\te');
  assert.equal(escapeHtml('Zürich 東京 🚀'), 'Zürich 東京 🚀');
});

test('numbers are rounded for people only in the page', () => {
  assert.equal(formatNumber(0.123456789), '0.1235');
  assert.equal(formatNumber(1234567), '1.23e6');
  assert.equal(formatNumber(1.2e-40), '1.20e-40');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(Number.NaN), '—');
  assert.equal(formatPercent(0.12345), '12.3%');
  assert.equal(formatPercent(0.00001), '<0.1%');
  assert.equal(formatCount(1234567), '1\u202f234\u202f567');
  assert.equal(formatValue(Date.UTC(2024, 0, 31), 'date'), '2024-01-31');
  assert.equal(formatValue(3723, 'time'), '01:02:03');
  assert.equal(truncate('abcdef', 4), 'abc…');
  assert.equal(truncate('🚀🚀🚀🚀🚀', 3), '🚀🚀…');
});

test('the same report renders to the same bytes', () => {
  const a = render({ windows: 6, hostileNames: true, variants: ['b', 'a'] });
  const b = render({ windows: 6, hostileNames: true, variants: ['b', 'a'] });
  assert.equal(a, b);
  const input = fixtureInput({ windows: 6 });
  const reversed = { ...input, windows: [...input.windows].reverse() };
  assert.equal(renderMonitorReportHtml(buildMonitorReport(input)), renderMonitorReportHtml(buildMonitorReport(reversed)));
  assert.equal(renderMonitorReportHtml(JSON.parse(JSON.stringify(buildMonitorReport(input)))), renderMonitorReportHtml(buildMonitorReport(input)),
    'the JSON twin renders the same page');
});

test('without a reference: no drift or reference columns, and the message', () => {
  const html = render({ windows: 4, withReference: false });
  assert.deepEqual(unbalancedTags(html), []);
  assert.match(html, /<p class="note" role="note">No reference profile is set for version 3/);
  assert.match(html, /<code>tarmac monitor reference credit-risk 3 FILE<\/code>/);
  assert.ok(!html.includes('Latest statistic'));
  assert.ok(!html.includes('Reference count'));
  assert.ok(!html.includes('<th scope="col" class="num">Reference</th>'));
  assert.match(html, /Null rate \(current\)/);
  assert.match(html, /No window has a drift verdict/);
});

test('without windows: the reference, and messages instead of charts over time', () => {
  const html = render({ windows: 0 });
  assert.deepEqual(unbalancedTags(html), []);
  assert.match(html, /No monitoring windows in this time range/);
  assert.match(html, /Time range<\/dt><dd>no windows/);
  assert.equal((html.match(/No windows in this time range\./g) ?? []).length, 3);
  assert.ok(html.includes('Reference count'));
  assert.ok(!html.includes('Current count'));

  const empty = renderMonitorReportHtml(buildMonitorReport({ ...fixtureInput({ windows: 0 }), reference: null }));
  assert.deepEqual(unbalancedTags(empty), []);
  assert.match(empty, /No features to show/);
});

test('p-value methods are charted as −log10 p with the threshold at p = 0.05', () => {
  const html = render({ windows: 6, referenceRows: 800 });
  assert.match(html, /−log₁₀ p-value \(Kolmogorov–Smirnov\)/);
  assert.match(html, /p = 0\.05/);
  assert.match(html, /chi-square/);
});

test('charts keep many bins readable: numeric bins grouped, rare categories summed', () => {
  const edges = Array.from({ length: 99 }, (_, i) => i + 1);
  const counts = Array.from({ length: 100 }, (_, i) => i + 1);
  const total = counts.reduce((a, b) => a + b, 0);
  const numeric: FeatureReport = {
    name: 'n', role: 'feature', kind: 'numeric',
    histogram: { bins: [], edges, reference: { total, counts, proportions: counts.map((c) => c / total) }, current: null },
    stats: { reference: null, current: null }, drift: [], latest_drift: null,
  };
  const bins = chartBins(numeric);
  assert.equal(bins.length, 34);
  assert.equal(bins[0]!.label, '(-∞, 3)');
  assert.equal(bins[1]!.label, '[3, 6)');
  assert.equal(bins.at(-1)!.label, '[99, +∞)');
  assert.equal(bins.reduce((a, b) => a + b.reference!.count, 0), total);

  const names = Array.from({ length: 60 }, (_, i) => `c${i}`);
  const cc = [...names.map((_, i) => 60 - i), 5];
  const ct = cc.reduce((a, b) => a + b, 0);
  const categorical: FeatureReport = {
    name: 'c', role: 'feature', kind: 'categorical',
    histogram: { bins: [...names, '__other__'], novel: [], reference: null, current: { total: ct, counts: cc, proportions: cc.map((c) => c / ct) } },
    stats: { reference: null, current: null }, drift: [], latest_drift: null,
  };
  const cb = chartBins(categorical);
  assert.equal(cb.length, 25);
  assert.equal(cb[0]!.label, 'c0');
  assert.equal(cb.at(-2)!.label, '(37 more categories)');
  assert.equal(cb.at(-1)!.label, '__other__');
  assert.equal(cb.reduce((a, b) => a + b.current!.count, 0), ct);
});

test('30 features × 48 windows stay well under 2 MB', () => {
  const report = buildMonitorReport(fixtureInput({ extraFeatures: 27, windows: 48, rowsPerWindow: 120 }));
  assert.equal(report.features.filter((f) => f.role === 'feature').length, 30);
  const html = renderMonitorReportHtml(report);
  const json = JSON.stringify(report);
  assert.ok(Buffer.byteLength(html) < 2_000_000, `html is ${Buffer.byteLength(html)} bytes`);
  assert.ok(Buffer.byteLength(json) < 2_000_000, `json is ${Buffer.byteLength(json)} bytes`);
  assert.deepEqual(unbalancedTags(html), []);
});
