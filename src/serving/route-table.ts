import type { Logger } from '../shared/logger.ts';
import type { Contract } from '../contracts/index.ts';
import type { DeploymentRecord, VersionRecord } from '../store/index.ts';
import { compileEdgeValidation, type EdgeValidation } from './edge-validation.ts';
import { featureNames } from './fallback-version.ts';
import type { LoadedVersion, ModelPool } from './model-pool.ts';

/** One variant of a live route: its loaded version and the upper bound of its slice of [0, 100). */
export interface LiveVariant {
  name: string;
  weight: number;
  upTo: number;
  loaded: LoadedVersion;
  /** The bound contract's compiled validator and policy, when the version has a contract and validation is on. */
  edge?: EdgeValidation;
  /** The loaded fallback version that answers records breaking the contract (policy `fallback` with a version). */
  fallbackTo?: FallbackTarget;
}

/** A fallback version as a live variant holds it: loaded and pinned like a deployed version. */
export interface FallbackTarget {
  loaded: LoadedVersion;
  /** The feature names it reads from a record. */
  features: string[];
  /** Its own bound contract (a different one than the main version's), applied with policy reject. */
  edge?: EdgeValidation;
}

/** A running experiment as the route table holds it: sticky assignment of units to variants. */
export interface LiveExperiment {
  /** Assigns a unit key to a variant name, or null when the unit is outside the experiment. */
  assign(unitKey: string): string | null;
  /** Where the unit key comes from: a request header, or a field of the (first) record. */
  unit: { header?: string; field?: string };
  /** The variant units outside the experiment (or without a key) get. */
  control: string;
}

/** Reads a contract version (the registry's ContractService). */
export interface ContractSource {
  get(name: string, version: number): Promise<{ contract: Contract }>;
}

/** What serves one model right now, held in memory so the hot path never reads the database. */
export interface Route {
  model: string;
  revision: number;
  variants: LiveVariant[];
  /** Versions answering a copy of the traffic, never returned. */
  shadows: { name: string; loaded: LoadedVersion }[];
}

/** Reads what the route table needs from the control plane. */
export interface RouteSource {
  getDeployment(model: string): Promise<DeploymentRecord | undefined>;
  listDeployments(): Promise<DeploymentRecord[]>;
  getVersion(model: string, version: number): Promise<VersionRecord | undefined>;
}

/**
 * The in-memory map from model name to its live variants. A change loads the new versions first and swaps the
 * route in one assignment, so requests never see a half-built route (zero-downtime swap); the old versions are
 * disposed after their last in-flight request.
 */
export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly experiments = new Map<string, LiveExperiment>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private started = false;

  constructor(private readonly deps: { source: RouteSource; pool: ModelPool; log: Logger; contracts?: ContractSource; random?: () => number }) {}

  /** Loads every deployment; the server reports ready after this resolves. */
  async start(): Promise<void> {
    const deployments = await this.deps.source.listDeployments();
    const results = await Promise.allSettled(deployments.map((d) => this.refresh(d.modelName)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.deps.log.error({ err: r.reason, model: deployments[i]!.modelName }, 'could not load deployment');
    });
    this.started = true;
  }

  /** True once start() finished. */
  get ready(): boolean {
    return this.started;
  }

  /** The live route of `model`, if deployed and loaded. */
  get(model: string): Route | undefined {
    return this.routes.get(model);
  }

  /** All live routes. */
  all(): Route[] {
    return [...this.routes.values()];
  }

  /** Picks a variant by weight. */
  choose(route: Route, unit?: (experiment: LiveExperiment) => string | undefined): LiveVariant {
    const experiment = this.experiments.get(route.model);
    if (experiment && unit) {
      // Sticky: the same unit key always lands on the same variant (a deterministic hash, no state).
      const key = unit(experiment);
      const name = (key === undefined ? null : experiment.assign(key)) ?? experiment.control;
      const chosen = route.variants.find((v) => v.name === name);
      if (chosen) return chosen;
    }
    if (route.variants.length === 1) return route.variants[0]!;
    const roll = (this.deps.random ?? Math.random)() * 100;
    return route.variants.find((v) => roll < v.upTo) ?? route.variants[route.variants.length - 1]!;
  }

  /** Sets (or, with undefined, clears) the running experiment of a model on this replica. */
  setExperiment(model: string, experiment: LiveExperiment | undefined): void {
    if (experiment) this.experiments.set(model, experiment);
    else this.experiments.delete(model);
  }

  /** The running experiment of a model on this replica, if any. */
  experiment(model: string): LiveExperiment | undefined {
    return this.experiments.get(model);
  }

  /** Rebuilds the route of `model` from its stored deployment; serialised per model so swaps never interleave. */
  refresh(model: string): Promise<void> {
    const previous = this.refreshing.get(model) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.rebuild(model));
    this.refreshing.set(model, next);
    void next.finally(() => {
      if (this.refreshing.get(model) === next) this.refreshing.delete(model);
    }).catch(() => undefined);
    return next;
  }

  /** Unpins every version. */
  close(): void {
    for (const route of this.routes.values()) {
      this.unpinAll(route.variants);
      for (const sh of route.shadows) this.deps.pool.unpin(sh.loaded.version);
    }
    this.routes.clear();
  }

  private unpinAll(variants: LiveVariant[]): void {
    for (const v of variants) {
      this.deps.pool.unpin(v.loaded.version);
      if (v.fallbackTo) this.deps.pool.unpin(v.fallbackTo.loaded.version);
    }
  }

  /** Compiles, loads and pins the fallback version of a deployment; the caller unpins it with its variant. */
  private async loadFallback(model: string, number: number, deployment: DeploymentRecord): Promise<FallbackTarget> {
    const version = await this.deps.source.getVersion(model, number);
    if (!version) throw new Error(`deployment of ${model} names missing fallback version ${number}`);
    const edge = version.contract && this.deps.contracts
      ? compileEdgeValidation((await this.deps.contracts.get(version.contract.name, version.contract.version)).contract, 'reject')
      : undefined;
    const loaded = await this.deps.pool.pin(version);
    this.deps.pool.configureBatching(loaded, deployment.spec.batching);
    return { loaded, features: featureNames(version.signature), ...(edge ? { edge } : {}) };
  }

  private async rebuild(model: string): Promise<void> {
    const deployment = await this.deps.source.getDeployment(model);
    const old = this.routes.get(model);
    if (old && deployment && old.revision === deployment.revision) return;
    let route: Route | undefined;
    if (deployment) {
      const variants: LiveVariant[] = [];
      const total = deployment.spec.variants.reduce((sum, v) => sum + v.weight, 0) || 1;
      let upTo = 0;
      try {
        for (const spec of deployment.spec.variants) {
          const version = await this.deps.source.getVersion(model, spec.version);
          if (!version) throw new Error(`deployment of ${model} names missing version ${spec.version}`);
          // The contract's validator is compiled before the version is pinned, so a failure leaves no pin behind.
          const validation = deployment.spec.validation;
          const policy = validation?.policy ?? 'reject';
          const edge = version.contract && policy !== 'off' && this.deps.contracts
            ? compileEdgeValidation((await this.deps.contracts.get(version.contract.name, version.contract.version)).contract, policy, {
              fallback: validation?.fallback, fallbackVersion: validation?.fallbackVersion, reference: version.reference,
            })
            : undefined;
          // The fallback version is loaded (and warmed) before traffic moves, like the variant it stands in for.
          const fallbackTo = edge?.fallbackVersion !== undefined ? await this.loadFallback(model, edge.fallbackVersion, deployment) : undefined;
          let loaded: LoadedVersion;
          try {
            loaded = await this.deps.pool.pin(version);
          } catch (err) {
            if (fallbackTo) this.deps.pool.unpin(fallbackTo.loaded.version);
            throw err;
          }
          this.deps.pool.configureBatching(loaded, deployment.spec.batching);
          upTo += (spec.weight / total) * 100;
          variants.push({ name: spec.name, weight: spec.weight, upTo, loaded, ...(edge ? { edge } : {}), ...(fallbackTo ? { fallbackTo } : {}) });
        }
      } catch (err) {
        this.unpinAll(variants);
        throw err;
      }
      const shadows: Route['shadows'] = [];
      try {
        for (const spec of deployment.spec.shadows ?? []) {
          const version = await this.deps.source.getVersion(model, spec.version);
          if (!version) throw new Error(`deployment of ${model} names missing shadow version ${spec.version}`);
          const loaded = await this.deps.pool.pin(version);
          this.deps.pool.configureBatching(loaded, deployment.spec.batching);
          shadows.push({ name: spec.name, loaded });
        }
      } catch (err) {
        this.unpinAll(variants);
        for (const sh of shadows) this.deps.pool.unpin(sh.loaded.version);
        throw err;
      }
      route = { model, revision: deployment.revision, variants, shadows };
      this.routes.set(model, route);
    } else {
      this.routes.delete(model);
    }
    if (old) {
      this.unpinAll(old.variants);
      for (const sh of old.shadows) this.deps.pool.unpin(sh.loaded.version);
    }
    this.deps.log.info({ model, revision: deployment?.revision, versions: route?.variants.map((v) => v.loaded.version.version) }, 'route updated');
  }
}
