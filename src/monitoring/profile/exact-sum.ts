/**
 * An exactly rounded running sum (Shewchuk's non-overlapping partials, as in Python's math.fsum): the value is the
 * exact sum of every added double rounded once, so it is identical whatever the order of adds and merges.
 */
export class ExactSum {
  /** Non-overlapping partials in increasing magnitude whose exact sum is the running total. */
  partials: number[] = [];
  /** 0 while the running sum fits in a double; ±Infinity (or NaN when both signs overflowed) after it did not. */
  overflow = 0;

  /** Adds one finite double; O(number of partials), which stays at 1–3 for ordinary data and never exceeds ~40. */
  add(value: number): void {
    if (this.overflow !== 0) {
      this.overflow += value;
      return;
    }
    const p = this.partials;
    let x = value;
    let i = 0;
    for (let j = 0; j < p.length; j++) {
      let y = p[j]!;
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    if (!Number.isFinite(x)) {
      // The exact sum left the double range: partials would turn into NaN, so the sum becomes sticky infinite.
      this.overflow = x;
      this.partials = [];
      return;
    }
    p.length = i + 1;
    p[i] = x;
  }

  /** Adds every partial of another sum, exactly. */
  addSum(other: ExactSum): void {
    if (other.overflow !== 0) this.overflow = this.overflow + other.overflow;
    if (this.overflow !== 0) {
      this.partials = [];
      return;
    }
    for (const v of other.partials) {
      this.add(v);
      if (this.overflow !== 0) return;
    }
  }

  /** The exact sum rounded to the nearest double (ties to even), like math.fsum. */
  value(): number {
    if (this.overflow !== 0) return this.overflow;
    const p = this.partials;
    let n = p.length;
    if (n === 0) return 0;
    let hi = p[--n]!;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n]!;
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    // Half-way cases: the partials below `lo` decide which way the rounding of hi + lo should go.
    if (n > 0 && ((lo < 0 && p[n - 1]! < 0) || (lo > 0 && p[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      const yr = x - hi;
      if (y === yr) hi = x;
    }
    return hi;
  }

  /** A copy that does not share state. */
  clone(): ExactSum {
    const c = new ExactSum();
    c.partials = this.partials.slice();
    c.overflow = this.overflow;
    return c;
  }
}
