import type { Metric, Registry } from 'prom-client';

/**
 * Counters and histograms for the per-request path, exposed through a prom-client Registry like any other metric
 * (same text format, HELP/TYPE lines, OpenMetrics, reset). Why not prom-client's own: a bound prom-client child still
 * validates and hashes its labels on every call, which cost ~1 µs per observation (four per request on the predict
 * path); here `labels()` is resolved once and `inc`/`observe` are plain additions. Only what the registry reads is
 * implemented: `get()`, `reset()`, `name`, `help`, `type`, `aggregator` (the collector contract of
 * `Registry.registerMetric`).
 */
abstract class HotMetric<Child> {
  readonly aggregator = 'sum';
  protected readonly children = new Map<string, { labels: Record<string, string>; child: Child }>();

  constructor(readonly name: string, readonly help: string, protected readonly labelNames: readonly string[], registry: Registry) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The handle for one set of label values, created on first use (unknown label names are an error, as in prom-client). */
  labels(labels: Record<string, string>): Child {
    for (const name of Object.keys(labels)) {
      if (!this.labelNames.includes(name)) throw new Error(`metric ${this.name} has no label "${name}"`);
    }
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let entry = this.children.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, child: this.newChild() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  protected abstract newChild(): Child;
}

/** A counter whose bound handles add without hashing. */
export class HotCounter extends HotMetric<{ inc(n?: number): void; value: number }> {
  readonly type = 'counter';

  protected newChild(): { inc(n?: number): void; value: number } {
    const child = {
      value: 0,
      inc(n = 1) {
        child.value += n;
      },
    };
    return child;
  }

  /** What the registry prints. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string>; value: number }[] }> {
    return Promise.resolve({
      name: this.name, help: this.help, type: this.type, aggregator: this.aggregator,
      values: [...this.children.values()].map(({ labels, child }) => ({ labels, value: child.value })),
    });
  }

  reset(): void {
    for (const { child } of this.children.values()) child.value = 0;
  }
}

interface HistogramChild {
  observe(value: number): void;
  /** Observations per bucket (not cumulative; the last slot is above every bound), their sum and count. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram whose bound handles find their bucket and add, without hashing. */
export class HotHistogram extends HotMetric<HistogramChild> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
    this.bounds = [...buckets].sort((a, b) => a - b);
  }

  protected newChild(): HistogramChild {
    const bounds = this.bounds;
    const child: HistogramChild = {
      counts: new Float64Array(bounds.length + 1),
      sum: 0,
      count: 0,
      observe(value: number) {
        if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        child.counts[i]!++;
        child.sum += value;
        child.count++;
      },
    };
    return child;
  }

  /** What the registry prints: cumulative `_bucket` lines with `le`, then `_sum` and `_count`, per label set. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const { labels, child } of this.children.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += child.counts[i]!;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: child.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const { child } of this.children.values()) {
      child.counts.fill(0);
      child.sum = 0;
      child.count = 0;
    }
  }
}
