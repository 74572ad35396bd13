import { BatchingModel, type BatchingOptions, type InferenceEngine } from '../runtime/index.ts';
import type { Logger } from '../shared/logger.ts';
import type { BatchingOverrides, VersionRecord } from '../store/index.ts';
import type { ServingMetrics } from './serving-metrics.ts';

/** A loaded version with a count of requests in flight, so it is disposed only once nobody uses it. */
export class LoadedVersion {
  private inFlight = 0;
  private retired = false;
  private disposal: Promise<void> | undefined;
  private settle: (() => void) | undefined;
  /** Resolves once the session is disposed (after retire() and the last in-flight request). */
  readonly disposed: Promise<void> = new Promise((resolve) => {
    this.settle = resolve;
  });

  constructor(readonly version: VersionRecord, readonly model: BatchingModel, private readonly log: Logger) {}

  /** Runs `fn` with the model, keeping it alive until `fn` settles. */
  async use<T>(fn: (model: BatchingModel) => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn(this.model);
    } finally {
      this.inFlight--;
      if (this.retired && this.inFlight === 0) void this.dispose();
    }
  }

  /** Marks the version unused by any route; it is disposed when its last request finishes (see `disposed`). */
  retire(): Promise<void> {
    this.retired = true;
    if (this.inFlight === 0) void this.dispose();
    return this.disposed;
  }

  private dispose(): Promise<void> {
    this.disposal ??= this.model.dispose().then(
      () => this.settle!(),
      (err: unknown) => {
        this.log.warn({ err, model: this.version.modelName, version: this.version.version }, 'dispose failed');
        this.settle!();
      },
    );
    return this.disposal;
  }
}

/**
 * Loads each version once: reads its artifact (verified against its sha256), creates and warms the session, and
 * shares it between every route and request that needs it. Concurrent requests for the same version share one load.
 */
export class ModelPool {
  private readonly loaded = new Map<string, Promise<LoadedVersion>>();
  /** Versions loaded for version-pinned requests outside any deployment, oldest first (an LRU bound). */
  private readonly extras: string[] = [];
  private readonly pinned = new Map<string, number>();

  constructor(
    private readonly deps: {
      engine: InferenceEngine;
      readArtifact: (version: VersionRecord) => Promise<Uint8Array>;
      log: Logger;
      maxExtra: number;
      batching: BatchingOptions;
      metrics: ServingMetrics;
    },
  ) {}

  /** Applies a deployment's batching overrides on top of the server's defaults. */
  configureBatching(loaded: LoadedVersion, overrides: BatchingOverrides | undefined): void {
    loaded.model.configure({ ...this.deps.batching, ...overrides });
  }

  /** Loads (or reuses) a version that a route pins; pins are counted so shared versions stay loaded. */
  async pin(version: VersionRecord): Promise<LoadedVersion> {
    const key = keyOf(version);
    const loaded = await this.load(version);
    this.pinned.set(key, (this.pinned.get(key) ?? 0) + 1);
    const extraIndex = this.extras.indexOf(key);
    if (extraIndex >= 0) this.extras.splice(extraIndex, 1);
    return loaded;
  }

  /** Releases a pin; the version is retired when no route pins it any more. */
  unpin(version: VersionRecord): void {
    const key = keyOf(version);
    const count = (this.pinned.get(key) ?? 0) - 1;
    if (count > 0) {
      this.pinned.set(key, count);
      return;
    }
    this.pinned.delete(key);
    this.evict(key);
  }

  /** A version outside every deployment, loaded on demand and kept in a small LRU. */
  async extra(version: VersionRecord): Promise<LoadedVersion> {
    const key = keyOf(version);
    const loaded = await this.load(version);
    if (!this.pinned.has(key)) {
      const index = this.extras.indexOf(key);
      if (index >= 0) this.extras.splice(index, 1);
      this.extras.push(key);
      while (this.extras.length > this.deps.maxExtra) this.evict(this.extras.shift()!);
    }
    return loaded;
  }

  /** The number of versions currently loaded. */
  get size(): number {
    return this.loaded.size;
  }

  /** Disposes every session once its in-flight requests have finished; resolves when all are disposed. */
  async close(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    await Promise.all(all.map((entry) => entry.then((v) => v.retire(), () => undefined)));
  }

  private load(version: VersionRecord): Promise<LoadedVersion> {
    const key = keyOf(version);
    let entry = this.loaded.get(key);
    if (!entry) {
      entry = (async () => {
        const started = performance.now();
        const bytes = await this.deps.readArtifact(version);
        const raw = await this.deps.engine.load(bytes, version.signature);
        const model = new BatchingModel(raw, this.deps.batching);
        const batchRows = this.deps.metrics.batchRows.labels({ model: version.modelName, version: String(version.version) });
        model.onBatch = (rows) => batchRows.observe(rows);
        this.deps.log.info({ model: version.modelName, version: version.version, placement: raw.placement, ms: Math.round(performance.now() - started) }, 'version loaded');
        return new LoadedVersion(version, model, this.deps.log);
      })();
      this.loaded.set(key, entry);
      entry.catch(() => this.loaded.delete(key));
    }
    return entry;
  }

  private evict(key: string): void {
    const entry = this.loaded.get(key);
    if (!entry) return;
    this.loaded.delete(key);
    void entry.then((v) => v.retire(), () => undefined);
  }
}

function keyOf(version: VersionRecord): string {
  return `${version.modelName}@${version.version}`;
}
