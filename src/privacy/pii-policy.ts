import type { Contract } from '../contracts/index.ts';
import type { PredictionRecord, VersionRecord } from '../store/index.ts';
import { PiiHasher, piiRulesOf, protectReasons, sourceRules, type PiiRule, type ReasonLike } from './pii.ts';

/** Reads a model version (the model store). */
export interface VersionSource {
  getVersion(model: string, version: number): Promise<VersionRecord | undefined>;
}

/** Reads a contract version (the registry's ContractService). */
export interface ContractReader {
  get(name: string, version: number): Promise<{ contract: Contract }>;
}

/**
 * Privacy by default for every copy of a record Tarmac keeps: resolves which fields are PII for a model version
 * (through the contract the version is bound to) or a dataset (its pinned contract), and replaces their values by
 * the contract's treatment before anything is stored. Versions and contract versions are immutable, so the rules
 * are cached for good.
 */
export class PiiPolicy {
  private readonly byVersion = new Map<string, Promise<PiiRule[]>>();
  private readonly byContract = new Map<string, Promise<PiiRule[]>>();
  readonly hasher: PiiHasher;

  constructor(private readonly deps: { versions: VersionSource; contracts: ContractReader; secret: string }) {
    this.hasher = new PiiHasher(deps.secret);
  }

  /** The PII rules of a contract version; throws CONTRACT_NOT_FOUND when it is unknown. */
  contractRules(name: string, version: number): Promise<PiiRule[]> {
    const key = `${name}\u0000${version}`;
    let rules = this.byContract.get(key);
    if (!rules) {
      rules = this.deps.contracts.get(name, version).then(({ contract }) => piiRulesOf(contract));
      this.byContract.set(key, rules);
      rules.catch(() => this.byContract.delete(key));
    }
    return rules;
  }

  /** The PII rules of a model version: those of its bound contract, none when it has no contract. */
  versionRules(model: string, version: number): Promise<PiiRule[]> {
    const key = `${model}\u0000${version}`;
    let rules = this.byVersion.get(key);
    if (!rules) {
      rules = this.deps.versions.getVersion(model, version).then((v) => (v?.contract ? this.contractRules(v.contract.name, v.contract.version) : []));
      this.byVersion.set(key, rules);
      rules.catch(() => this.byVersion.delete(key));
    }
    return rules;
  }

  /** The names of a model version's PII features (the monitor leaves them out of its profiles). */
  async piiFields(model: string, version: number): Promise<ReadonlySet<string>> {
    return new Set((await this.versionRules(model, version)).map((r) => r.field));
  }

  /**
   * The prediction events as they may be stored: PII inputs replaced, and an experiment unit key that is the value
   * of a PII input replaced by that input's stored form. Rejects when the rules cannot be resolved, so the caller
   * drops the events rather than storing raw values.
   */
  async protectPredictions(rows: readonly PredictionRecord[]): Promise<PredictionRecord[]> {
    const out: PredictionRecord[] = [];
    // Rows come in runs of one version: its rules are looked up (and awaited) once per run, not once per row.
    let rules: PiiRule[] = [];
    let rulesOf: PredictionRecord | undefined;
    for (const row of rows) {
      if (rulesOf === undefined || row.model !== rulesOf.model || row.version !== rulesOf.version) {
        rules = await this.versionRules(row.model, row.version);
        rulesOf = row;
      }
      const outputs = this.protectSubject(row.outputs);
      if (rules.length === 0) {
        out.push(outputs === row.outputs ? row : { ...row, outputs });
        continue;
      }
      const { inputsJson: _asSent, ...rest } = row; // the client's text holds the raw values: never stored
      out.push({ ...rest, inputs: this.hasher.protectRecord(row.inputs, rules), outputs: this.protectUnit(row.inputs, outputs, rules) });
    }
    return out;
  }

  /** The subject key a client sent with a record is personal by definition: always its keyed hash. */
  private protectSubject(outputs: unknown): unknown {
    if (typeof outputs !== 'object' || outputs === null) return outputs;
    const subject = (outputs as { subject?: unknown }).subject;
    return typeof subject === 'string' ? { ...(outputs as Record<string, unknown>), subject: this.hasher.hash(subject) } : outputs;
  }

  /** A dataset's quarantined row protected: its raw form (source names included) and the reasons' quoted values. */
  protectQuarantined<R extends ReasonLike>(rules: readonly PiiRule[], transforms: readonly unknown[], raw: unknown, reasons: readonly R[]): { raw: unknown; reasons: R[] } {
    if (rules.length === 0) return { raw, reasons: [...reasons] };
    const source = sourceRules(rules, transforms);
    return { raw: this.hasher.protectRaw(raw, source), reasons: protectReasons(reasons, new Set(source.map((r) => r.field))) };
  }

  private protectUnit(inputs: unknown, outputs: unknown, rules: readonly PiiRule[]): unknown {
    if (typeof outputs !== 'object' || outputs === null || typeof inputs !== 'object' || inputs === null) return outputs;
    const unit = (outputs as { unit?: unknown }).unit;
    if (typeof unit !== 'string') return outputs;
    for (const rule of rules) {
      const value = (inputs as Record<string, unknown>)[rule.field];
      if (value !== null && value !== undefined && String(value) === unit) {
        return { ...(outputs as Record<string, unknown>), unit: this.hasher.protect(unit, rule.treatment) };
      }
    }
    return outputs;
  }
}
