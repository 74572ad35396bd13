// Isotonic regression by pool-adjacent-violators, as sklearn.isotonic.IsotonicRegression(increasing=True,
// out_of_bounds='clip') fits and predicts it (NannyML's CBPE calibrator). Hand-written on purpose: Tarmac's own
// monitoring logic with no npm dependency.
import { checkEnvelope, fail, requireFinite } from './util.ts';

/** A fitted isotonic step function: increasing thresholds x and values y, linearly interpolated between them. */
export interface IsotonicModel {
  x: number[];
  y: number[];
}

// sklearn's _make_unique merges x values closer than numpy's float64 resolution.
const X_RESOLUTION = 1e-15;

/**
 * Fits a non-decreasing function of x to y (weighted least squares) by pool-adjacent-violators; equal x are pooled
 * first and flat runs keep only their end points, as sklearn does; throws VALIDATION_FAILED on empty or
 * mismatched input.
 */
export function fitIsotonic(x: ArrayLike<number>, y: ArrayLike<number>, weights?: ArrayLike<number>): IsotonicModel {
  const n = x.length;
  if (n === 0) throw fail('/x', 'non-empty', 'isotonic regression needs at least one point');
  if (y.length !== n || (weights !== undefined && weights.length !== n)) throw fail('/y', 'length', 'x, y and weights must have one entry per point');
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    requireFinite(x[i], `/x/${i}`);
    requireFinite(y[i], `/y/${i}`);
  }
  order.sort((a, b) => x[a]! - x[b]! || y[a]! - y[b]!);
  // Pool ties in x into their weighted mean.
  const ux: number[] = [];
  const uy: number[] = [];
  const uw: number[] = [];
  let cx = x[order[0]!]!;
  let sw = 0;
  let swy = 0;
  for (const i of order) {
    const w = weights === undefined ? 1 : weights[i]!;
    if (!(w >= 0)) throw fail(`/weights/${i}`, 'non-negative', 'weights must be >= 0');
    if (x[i]! - cx >= X_RESOLUTION) {
      ux.push(cx);
      uy.push(swy / sw);
      uw.push(sw);
      cx = x[i]!;
      sw = 0;
      swy = 0;
    }
    sw += w;
    swy += w * y[i]!;
  }
  ux.push(cx);
  uy.push(swy / sw);
  uw.push(sw);
  // Pool adjacent violators: a stack of blocks (weighted mean, weight, first index).
  const means: number[] = [];
  const ws: number[] = [];
  const starts: number[] = [];
  for (let i = 0; i < ux.length; i++) {
    let m = uy[i]!;
    let w = uw[i]!;
    let start = i;
    while (means.length > 0 && means[means.length - 1]! >= m) {
      const pm = means.pop()!;
      const pw = ws.pop()!;
      start = starts.pop()!;
      m = (pm * pw + m * w) / (pw + w);
      w += pw;
    }
    means.push(m);
    ws.push(w);
    starts.push(start);
  }
  const fitted = new Array<number>(ux.length);
  for (let b = 0; b < means.length; b++) {
    const end = b + 1 < starts.length ? starts[b + 1]! : ux.length;
    for (let i = starts[b]!; i < end; i++) fitted[i] = means[b]!;
  }
  // Interior points of a flat run change nothing under linear interpolation.
  const outX: number[] = [];
  const outY: number[] = [];
  for (let i = 0; i < ux.length; i++) {
    const interior = i > 0 && i < ux.length - 1 && fitted[i] === fitted[i - 1] && fitted[i] === fitted[i + 1];
    if (!interior) {
      outX.push(ux[i]!);
      outY.push(fitted[i]!);
    }
  }
  return { x: outX, y: outY };
}

/** The model's value at v: clipped to the fitted x range, linear between thresholds (sklearn's predict). */
export function predictIsotonic(model: IsotonicModel, v: number): number {
  const { x, y } = model;
  const last = x.length - 1;
  if (v <= x[0]!) return y[0]!;
  if (v >= x[last]!) return y[last]!;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid]! <= v) lo = mid;
    else hi = mid;
  }
  const x0 = x[lo]!;
  const x1 = x[hi]!;
  if (v === x0) return y[lo]!;
  return y[lo]! + ((y[hi]! - y[lo]!) * (v - x0)) / (x1 - x0);
}

/** The versioned JSON form of an isotonic model. */
export function isotonicToJSON(model: IsotonicModel): { v: 1; kind: 'isotonic'; x: number[]; y: number[] } {
  return { v: 1, kind: 'isotonic', x: model.x.slice(), y: model.y.slice() };
}

/** Restores an isotonic model; throws VALIDATION_FAILED unless x is increasing and y non-decreasing. */
export function isotonicFromJSON(json: unknown): IsotonicModel {
  const o = checkEnvelope(json, 'isotonic');
  const x = o.x;
  const y = o.y;
  if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length || x.length === 0) {
    throw fail('/x', 'shape', 'x and y must be non-empty arrays of equal length');
  }
  for (let i = 0; i < x.length; i++) {
    requireFinite(x[i], `/x/${i}`);
    requireFinite(y[i], `/y/${i}`);
    if (i > 0 && !(x[i] > x[i - 1] && y[i] >= y[i - 1])) throw fail(`/x/${i}`, 'monotone', 'x must increase and y must not decrease');
  }
  return { x: x.slice() as number[], y: y.slice() as number[] };
}
