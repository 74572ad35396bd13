import { createHash } from 'node:crypto';
import type { EventBus } from '../bus/index.ts';
import { checkCompatibility, parseContract, pointerSegment } from '../contracts/index.ts';
import type { Compatibility, Contract, Difference, FieldRule } from '../contracts/index.ts';
import type { AuditLog, Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import type { ContractRecord, ContractStore } from '../store/index.ts';
import { isModelName, MODEL_NAME_RULE } from './names.ts';

/** A stored contract version together with its parsed model. */
export interface ResolvedContract {
  record: ContractRecord;
  contract: Contract;
}

/** The answer to a registration: the version, and whether it is new (false: identical to the latest, nothing added). */
export interface RegisteredContract extends ResolvedContract {
  created: boolean;
}

/** How one field differs between two contract versions. */
export interface FieldChange {
  field: string;
  change: 'added' | 'removed' | 'changed';
  /** For `changed`: each attribute of the field rule that differs. */
  attributes?: { attribute: string; from: unknown; to: unknown }[];
}

/** The differences between two versions of one contract. */
export interface ContractDiff {
  name: string;
  from: number;
  to: number;
  /** Contract-level attributes that differ (document version, compatibility, primary key, …). */
  contract: { attribute: string; from: unknown; to: unknown }[];
  fields: FieldChange[];
  /** Whether `to` could follow `from` under `to`'s compatibility mode, and every classified difference. */
  compatibility: { mode: Compatibility; compatible: boolean; breaking: Difference[]; changes: Difference[] };
}

const CONTRACT_REF = /^([^@]+)(?:@(.+))?$/;
const VERSION_NUMBER = /^[1-9][0-9]{0,9}$/;

/**
 * The contract registry: ODCS documents registered as numbered versions per contract name, read back parsed, and
 * compared. Every registration is audited and announced on the bus.
 */
export class ContractService {
  /** Parsed contracts by the sha256 of their document: stored documents never change, so neither does the parse. */
  private readonly parsed = new Map<string, Contract>();

  constructor(
    private readonly deps: {
      contracts: ContractStore;
      audit: AuditLog;
      bus: EventBus;
      clock: Clock;
    },
  ) {}

  /**
   * Registers `yamlText` as the next version of the contract it names. When it is byte-identical to the latest
   * version, returns that version with `created: false` and adds nothing (idempotent). Otherwise the document is
   * checked against the latest version under its compatibility mode (backward, forward, full, none). Throws
   * CONTRACT_INVALID, or CONTRACT_INCOMPATIBLE with one issue per breaking difference.
   */
  async register(yamlText: string, by: Principal): Promise<RegisteredContract> {
    const contract = parseContract(yamlText);
    if (!isModelName(contract.name)) {
      throw new TarmacError('CONTRACT_INVALID', `contract name ${JSON.stringify(contract.name)} is not allowed: use 1–64 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit`, {
        issues: [{ field: '/name', rule: 'pattern', message: `must match ${MODEL_NAME_RULE}` }],
      });
    }
    const sha256 = createHash('sha256').update(yamlText).digest('hex');
    const latest = await this.deps.contracts.latest(contract.name);
    if (latest && latest.sha256 === sha256) {
      await this.deps.audit.record(by, 'contract.register', `contract:${latest.name}/${latest.version}`, { sha256, created: false });
      return { record: latest, contract: this.parse(latest), created: false };
    }
    if (latest) {
      const report = checkCompatibility(this.parse(latest), contract);
      if (!report.compatible) {
        await this.deps.audit.failed(by, 'contract.register', `contract:${latest.name}`, {
          sha256, code: 'CONTRACT_INCOMPATIBLE', breaking: report.breaking.map((d) => d.change),
        });
        throw new TarmacError('CONTRACT_INCOMPATIBLE', `this version of contract ${latest.name} is not ${report.mode}-compatible with version ${latest.version}: ${report.breaking.map((d) => d.message).join('; ')}`, {
          details: { contract: latest.name, previous_version: latest.version, mode: report.mode },
          issues: report.breaking.map((d) => ({
            field: d.field === '' ? '' : `/schema/properties/${pointerSegment(d.field)}`,
            rule: d.change,
            message: d.message,
          })),
        });
      }
    }
    // The new version and its audit entry commit together, or neither does; the event follows the commit.
    const record = await this.deps.audit.atomically(async () => {
      const added = await this.deps.contracts.add({
        name: contract.name,
        odcsVersion: contract.version,
        document: yamlText,
        sha256,
        compatibility: contract.compatibility,
        createdBy: by.id,
        createdAt: this.deps.clock.now(),
      });
      await this.deps.audit.record(by, 'contract.register', `contract:${added.name}/${added.version}`, {
        sha256, created: true, before: latest ? { version: latest.version, sha256: latest.sha256 } : null, after: { version: added.version, sha256 },
      });
      return added;
    });
    this.parsed.set(sha256, contract);
    await this.deps.bus.publish('contract.registered', { name: record.name, version: record.version, sha256, by: by.id });
    return { record, contract, created: true };
  }

  /** The latest version of every contract, by name. */
  list(): Promise<ContractRecord[]> {
    return this.deps.contracts.listLatest();
  }

  /** Every version of a contract, oldest first. Throws CONTRACT_NOT_FOUND for an unknown name. */
  async versions(name: string): Promise<ContractRecord[]> {
    const versions = await this.deps.contracts.listVersions(name);
    if (versions.length === 0) throw notFound(name);
    return versions;
  }

  /** One version (a number, or `latest`) with its parsed model. Throws CONTRACT_NOT_FOUND. */
  async get(name: string, ref: number | string = 'latest'): Promise<ResolvedContract> {
    const text = String(ref);
    let record: ContractRecord | undefined;
    if (text === 'latest') record = await this.deps.contracts.latest(name);
    else if (VERSION_NUMBER.test(text)) record = await this.deps.contracts.get(name, Number(text));
    if (!record) throw notFound(name, text);
    return { record, contract: this.parse(record) };
  }

  /** Resolves `NAME` (latest) or `NAME@VERSION`. Throws CONTRACT_NOT_FOUND. */
  resolve(reference: string): Promise<ResolvedContract> {
    const match = CONTRACT_REF.exec(reference);
    if (!match) throw notFound(reference);
    return this.get(match[1]!, match[2] ?? 'latest');
  }

  /** The field-by-field differences from version `a` to version `b` of `name`. Throws CONTRACT_NOT_FOUND. */
  async diff(name: string, a: number | string, b: number | string): Promise<ContractDiff> {
    const [from, to] = await Promise.all([this.get(name, a), this.get(name, b)]);
    return fieldDiff(name, from, to);
  }

  private parse(record: ContractRecord): Contract {
    let contract = this.parsed.get(record.sha256);
    if (!contract) {
      contract = parseContract(record.document);
      this.parsed.set(record.sha256, contract);
    }
    return contract;
  }
}

function notFound(name: string, version?: string): TarmacError {
  return version === undefined || version === 'latest'
    ? new TarmacError('CONTRACT_NOT_FOUND', `no contract named "${name}"`, { details: { contract: name } })
    : new TarmacError('CONTRACT_NOT_FOUND', `contract "${name}" has no version ${version}`, { details: { contract: name, version } });
}

const CONTRACT_ATTRIBUTES = ['version', 'status', 'schemaObject', 'compatibility', 'eventTimeField', 'maxLatenessSeconds', 'freshnessSeconds', 'primaryKey'] as const;

/** Compares two parsed versions of one contract: contract-level attributes, then each field by name. */
function fieldDiff(name: string, from: ResolvedContract, to: ResolvedContract): ContractDiff {
  const contract = CONTRACT_ATTRIBUTES
    .filter((k) => !same(from.contract[k], to.contract[k]))
    .map((k) => ({ attribute: k === 'version' ? 'odcs_version' : k, from: from.contract[k] ?? null, to: to.contract[k] ?? null }));
  const before = new Map(from.contract.fields.map((f) => [f.name, f]));
  const after = new Map(to.contract.fields.map((f) => [f.name, f]));
  const fields: FieldChange[] = [];
  for (const [field, rule] of before) {
    const next = after.get(field);
    if (!next) {
      fields.push({ field, change: 'removed' });
      continue;
    }
    const attributes = fieldAttributeChanges(rule, next);
    if (attributes.length > 0) fields.push({ field, change: 'changed', attributes });
  }
  for (const field of after.keys()) if (!before.has(field)) fields.push({ field, change: 'added' });
  const { mode, compatible, breaking, changes } = checkCompatibility(from.contract, to.contract);
  return { name, from: from.record.version, to: to.record.version, contract, fields, compatibility: { mode, compatible, breaking, changes } };
}

function fieldAttributeChanges(a: FieldRule, b: FieldRule): { attribute: string; from: unknown; to: unknown }[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== 'name' && k !== 'examples') as (keyof FieldRule)[];
  return keys.filter((k) => !same(a[k], b[k])).map((k) => ({ attribute: k, from: a[k] ?? null, to: b[k] ?? null }));
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
