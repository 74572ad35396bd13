import type { EventBus } from '../bus/index.ts';
import type { Contract } from '../contracts/index.ts';
import type { ContractService } from '../registry/index.ts';
import { isModelName, MODEL_NAME_RULE } from '../registry/index.ts';
import type { AuditLog, Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError } from '../shared/errors.ts';
import type { FieldIssue as Issue } from '../shared/errors.ts';
import type {
  BatchRecord, DatasetRecord, DatasetRowRecord, DatasetStore, QuarantineRecord, WindowCountsRecord,
} from '../store/index.ts';
import { compileTransforms } from './transforms.ts';

/** What a client submits to create a dataset. */
export interface DatasetSpec {
  name: string;
  /** `NAME` (latest version) or `NAME@VERSION`. */
  contract: string;
  description?: string;
  /** De-duplication key fields (default: the contract's primary key; none means the whole record). */
  key?: string[];
  /** Event-time field (default: the contract's `tarmac.eventTime` field). */
  eventTime?: string;
  windowSeconds?: number;
  /** Default: the contract's `tarmac.maxLatenessSeconds`, else one hour. */
  allowedLatenessSeconds?: number;
  transforms?: unknown[];
  natsSubject?: string;
}

const DEFAULT_WINDOW_SECONDS = 3600;
const DEFAULT_LATENESS_SECONDS = 3600;
const MAX_SECONDS = 366 * 24 * 3600;
/** A NATS subject Tarmac may consume: dot-separated tokens, no wildcards, no whitespace. */
const NATS_SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const TEMPORAL_TYPES = new Set(['timestamp', 'date', 'integer', 'number']);

/**
 * Datasets: named, contract-governed collections of rows with their ingestion settings (key, event time, windows,
 * lateness, transformations, stream subject). Creation checks the definition against the contract and is audited and
 * announced; reads serve the CLI and API.
 */
export class DatasetService {
  constructor(
    private readonly deps: {
      datasets: DatasetStore;
      contracts: ContractService;
      audit: AuditLog;
      bus: EventBus;
      clock: Clock;
      /** The server's key for hashing masks (so a `mask: hash` step without its own salt compiles). */
      maskSecret?: string;
    },
  ) {}

  /**
   * Creates a dataset pinned to a contract version. Throws CONTRACT_NOT_FOUND, DATASET_INVALID with one issue per
   * problem (unknown or optional key field, an event-time field that is not a time, bad window or lateness, a
   * transformation that does not compile, a bad subject), or DATASET_EXISTS.
   */
  async create(spec: DatasetSpec, by: Principal): Promise<DatasetRecord> {
    if (!isModelName(spec.name)) {
      throw invalid([{ field: '/name', rule: 'pattern', message: `must be 1–64 lowercase letters, digits, '.', '_' or '-' (${MODEL_NAME_RULE})` }]);
    }
    const { record: contractRecord, contract } = await this.deps.contracts.resolve(spec.contract);
    const issues: Issue[] = [];
    const keyFields = spec.key ?? contract.primaryKey;
    checkKeyFields(contract, keyFields, spec.key !== undefined, issues);
    const eventTimeField = spec.eventTime ?? contract.eventTimeField ?? null;
    if (eventTimeField !== null) {
      const field = contract.fields.find((f) => f.name === eventTimeField);
      if (!field) issues.push({ field: '/event_time', rule: 'unknown_field', message: `"${eventTimeField}" is not a field of contract ${contract.name}` });
      else if (!TEMPORAL_TYPES.has(field.logicalType)) {
        issues.push({ field: '/event_time', rule: 'type', message: `"${eventTimeField}" is a ${field.logicalType}; an event time must be a timestamp, a date or epoch milliseconds (integer/number)` });
      }
    }
    const windowSeconds = spec.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
    checkSeconds(windowSeconds, '/window_seconds', 1, issues);
    const allowedLatenessSeconds = spec.allowedLatenessSeconds ?? contract.maxLatenessSeconds ?? DEFAULT_LATENESS_SECONDS;
    checkSeconds(allowedLatenessSeconds, '/allowed_lateness_seconds', 0, issues);
    const transforms = spec.transforms ?? [];
    try {
      compileTransforms(transforms, { secret: this.deps.maskSecret });
    } catch (err) {
      if ((err as { code?: string }).code !== 'DATASET_INVALID') throw err;
      issues.push(...(err as TarmacError).issues);
    }
    if (spec.natsSubject !== undefined && !NATS_SUBJECT.test(spec.natsSubject)) {
      issues.push({ field: '/nats_subject', rule: 'pattern', message: 'must be dot-separated tokens of letters, digits, "_" or "-", without wildcards' });
    }
    if (issues.length > 0) throw invalid(issues);
    const now = this.deps.clock.now();
    // The dataset and its audit entry commit together, or neither does; the event follows the commit.
    const dataset = await this.deps.audit.atomically(async () => {
      const created = await this.deps.datasets.create({
        name: spec.name,
        description: spec.description ?? '',
        contract: { name: contractRecord.name, version: contractRecord.version },
        keyFields,
        eventTimeField,
        windowSeconds,
        allowedLatenessSeconds,
        transforms,
        natsSubject: spec.natsSubject ?? null,
        createdBy: by.id,
        createdAt: now,
      });
      await this.deps.audit.record(by, 'dataset.create', `dataset:${created.name}`, {
        contract: `${created.contract.name}@${created.contract.version}`, key: keyFields, event_time: eventTimeField,
        window_seconds: windowSeconds, allowed_lateness_seconds: allowedLatenessSeconds, transforms: transforms.length,
        nats_subject: created.natsSubject,
      });
      return created;
    });
    await this.deps.bus.publish('dataset.created', { name: dataset.name, natsSubject: dataset.natsSubject, by: by.id });
    return dataset;
  }

  /**
   * Moves the dataset to another version of its contract (the registry already checked that version's compatibility
   * when it was registered); rows stored earlier keep the version their batch records. Throws DATASET_NOT_FOUND,
   * CONTRACT_NOT_FOUND or DATASET_INVALID (another contract's name, or key/event-time fields the version lacks).
   */
  async setContract(name: string, reference: string, by: Principal): Promise<DatasetRecord> {
    const dataset = await this.get(name);
    const { record, contract } = await this.deps.contracts.resolve(reference);
    const issues: Issue[] = [];
    if (record.name !== dataset.contract.name) {
      issues.push({ field: '/contract', rule: 'same_contract', message: `dataset ${name} is governed by contract ${dataset.contract.name}, not ${record.name}` });
    }
    checkKeyFields(contract, dataset.keyFields, true, issues);
    if (dataset.eventTimeField !== null && !contract.fields.some((f) => f.name === dataset.eventTimeField)) {
      issues.push({ field: '/contract', rule: 'event_time', message: `version ${record.version} has no field "${dataset.eventTimeField}", the dataset's event time` });
    }
    if (issues.length > 0) throw invalid(issues);
    const previous = dataset.contract.version;
    await this.deps.audit.atomically(async () => {
      await this.deps.datasets.updateContract(dataset.id, { name: record.name, version: record.version }, this.deps.clock.now());
      await this.deps.audit.record(by, 'dataset.contract.set', `dataset:${name}`, { before: previous, after: record.version });
    });
    return this.get(name);
  }

  /** The dataset by name; throws DATASET_NOT_FOUND. */
  async get(name: string): Promise<DatasetRecord> {
    const dataset = await this.deps.datasets.get(name);
    if (!dataset) throw new TarmacError('DATASET_NOT_FOUND', `no dataset named ${name}`, { details: { dataset: name } });
    return dataset;
  }

  /** Every dataset. */
  list(): Promise<DatasetRecord[]> {
    return this.deps.datasets.list();
  }

  /** A dataset with its stored-row and open-quarantine counts and recent windows. */
  async describe(name: string): Promise<{ dataset: DatasetRecord; rows: number; quarantineOpen: number; windows: WindowCountsRecord[] }> {
    const dataset = await this.get(name);
    const [rows, quarantineOpen, windows] = await Promise.all([
      this.deps.datasets.countRows(dataset.id),
      this.deps.datasets.countQuarantine(dataset.id, 'open'),
      this.deps.datasets.windows(dataset.id, 48),
    ]);
    return { dataset, rows, quarantineOpen, windows };
  }

  /** The dataset's batches, newest first. */
  async batches(name: string, limit = 100): Promise<BatchRecord[]> {
    const dataset = await this.get(name);
    return this.deps.datasets.listBatches(dataset.id, limit);
  }

  /** One batch by id; throws DATASET_BATCH_NOT_FOUND. */
  async batch(id: string): Promise<BatchRecord> {
    const batch = await this.deps.datasets.getBatch(id);
    if (!batch) throw new TarmacError('DATASET_BATCH_NOT_FOUND', `no ingestion batch ${id}`, { details: { batch: id } });
    return batch;
  }

  /** Quarantined rows, oldest first, paged by id. */
  async quarantine(name: string, options: { status?: QuarantineRecord['status']; limit: number; afterId?: number }): Promise<QuarantineRecord[]> {
    const dataset = await this.get(name);
    return this.deps.datasets.listQuarantine(dataset.id, options);
  }

  /** Every stored row in arrival order, read page by page (memory stays flat for any size). */
  async *rows(name: string, pageSize = 5_000): AsyncGenerator<DatasetRowRecord> {
    const dataset = await this.get(name);
    let after = 0;
    for (;;) {
      const page = await this.deps.datasets.readRows(dataset.id, after, pageSize);
      for (const row of page) yield row;
      if (page.length < pageSize) return;
      after = page.at(-1)!.seq;
    }
  }

  /** The contract a dataset is governed by (for exports: column order and types). */
  async contractOf(dataset: DatasetRecord): Promise<Contract> {
    return (await this.deps.contracts.get(dataset.contract.name, dataset.contract.version)).contract;
  }
}

function invalid(issues: Issue[]): TarmacError {
  return new TarmacError('DATASET_INVALID', `the dataset definition is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
}

function checkKeyFields(contract: Contract, keyFields: readonly string[], explicit: boolean, issues: Issue[]): void {
  const source = explicit ? '/key' : '/contract';
  keyFields.forEach((name, i) => {
    const field = contract.fields.find((f) => f.name === name);
    if (!field) {
      issues.push({ field: `${source}/${i}`, rule: 'unknown_field', message: `"${name}" is not a field of contract ${contract.name}` });
    } else if (!field.required) {
      issues.push({ field: `${source}/${i}`, rule: 'required', message: `key field "${name}" is optional in contract ${contract.name}: rows without it could not be told apart; make it required` });
    }
  });
  if (new Set(keyFields).size !== keyFields.length) issues.push({ field: source, rule: 'unique', message: 'names a key field twice' });
}

function checkSeconds(value: number, field: string, min: number, issues: Issue[]): void {
  if (!Number.isInteger(value) || value < min || value > MAX_SECONDS) {
    issues.push({ field, rule: 'range', message: `must be a whole number of seconds from ${min} to ${MAX_SECONDS}` });
  }
}
