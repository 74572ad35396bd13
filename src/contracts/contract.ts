/**
 * The internal model of a data contract, read from an ODCS v3 document (Open Data Contract Standard, bitol.io).
 *
 * Mapping ODCS ↔ Contract / FieldRule. ODCS's own fields are used wherever they exist; Tarmac's extensions live in
 * ODCS `customProperties` entries `{ property: 'tarmac.xxx', value: ... }` only where ODCS has no field.
 *
 * | Contract / FieldRule       | ODCS source                                                                          |
 * |----------------------------|--------------------------------------------------------------------------------------|
 * | Contract.id                | `id`                                                                                 |
 * | Contract.name              | `name` (else the schema object's name, else `id`)                                    |
 * | Contract.version           | `version`                                                                            |
 * | Contract.status            | `status`                                                                             |
 * | Contract.schemaObject      | `schema[i].name` of the object used (the first one; others are ignored, warned)     |
 * | Contract.fields            | `schema[i].properties[]` (top level only; nested object/array items not validated)  |
 * | Contract.compatibility     | contract-level customProperty `tarmac.compatibility`: backward|forward|full|none      |
 * |                            | (default `backward`)                                                                 |
 * | Contract.freshnessSeconds  | contract-level customProperty `tarmac.freshnessSeconds` (number > 0)                  |
 * | Contract.eventTimeField    | the property with customProperty `tarmac.eventTime: true` (date/timestamp, at most 1) |
 * | Contract.maxLatenessSeconds| property-level customProperty `tarmac.maxLatenessSeconds` on the event-time field    |
 * | Contract.primaryKey        | properties with `primaryKey: true`, ordered by `primaryKeyPosition` then position    |
 * | FieldRule.name             | `name`                                                                               |
 * | FieldRule.logicalType      | `logicalType` (default `string` when absent, warned)                                 |
 * | FieldRule.required         | `required` (default false); nullable = !required                                     |
 * | FieldRule.unique           | `unique` (default false)                                                             |
 * | FieldRule.primaryKey       | `primaryKey` (default false)                                                         |
 * | FieldRule.classification   | `classification`                                                                     |
 * | FieldRule.pii              | classification ∈ {pii, confidential, restricted, sensitive} (case-insensitive) or    |
 * |                            | property-level customProperty `tarmac.pii: true` (`tarmac.pii: false` overrides)     |
 * | FieldRule.minimum, maximum,| `logicalTypeOptions.minimum|maximum|exclusiveMinimum|exclusiveMaximum` — numbers for  |
 * | exclusiveMinimum/Maximum   | number/integer, ISO-8601 strings for date/timestamp, `HH:mm:ss` for time             |
 * | FieldRule.minLength, …     | `logicalTypeOptions.minLength|maxLength|pattern|format` (string); lengths count      |
 * |                            | Unicode code points; pattern is ECMA-262, unanchored (JSON-Schema semantics)         |
 * | FieldRule.format           | `logicalTypeOptions.format`; enforced only for strings with email|uuid|uri|ipv4|ipv6|  |
 * |                            | hostname|date|date-time; JDK patterns on date/timestamp and f32/i64 are informational |
 * | FieldRule.validValues      | `quality[] {metric: invalidValues, mustBe: 0, arguments: {validValues: [...]}}` (ODCS |
 * |                            | requires an operator; its tolerance is not applied per record; nulls dropped;        |
 * |                            | enforced per record as an enum, strict equality)                                     |
 * | FieldRule.maxNullFraction  | `quality[] {metric: nullValues, mustBe(0)|mustBeLessThan|mustBeLessOrEqualTo: x,      |
 * | / maxNullRows              | unit: percent}` → x/100; `unit: rows` (ODCS default) → maxNullRows = x;               |
 * |                            | `nullLimitExclusive` is true for mustBeLessThan (dataset-level, not per record)      |
 * | FieldRule.defaultValue     | property-level customProperty `tarmac.default` (for imputation; must pass the rules) |
 * | FieldRule.piiTreatment     | property-level customProperty `tarmac.piiTreatment`: hash (default) or mask — how a PII |
 * |                            | field is stored in prediction logs and quarantine (see docs/privacy.md)              |
 * | FieldRule.subject          | property-level customProperty `tarmac.subject: true`: the field names the person the |
 * |                            | record is about (data subject requests search it)                                    |
 * | FieldRule.examples         | `examples`                                                                           |
 *
 * Dates: date values are `YYYY-MM-DD` real calendar dates; timestamp values are RFC 3339 with a timezone (`T` or a
 * space between date and time); time values are `HH:mm:ss[.fff]`. Bounds on timestamps without a timezone are UTC.
 */

export type LogicalType =
  | 'string' | 'date' | 'timestamp' | 'time' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

export const LOGICAL_TYPES: readonly LogicalType[] = [
  'string', 'date', 'timestamp', 'time', 'number', 'integer', 'boolean', 'object', 'array',
];

export type Compatibility = 'backward' | 'forward' | 'full' | 'none';

export const COMPATIBILITY_MODES: readonly Compatibility[] = ['backward', 'forward', 'full', 'none'];

/** Classifications that mark a field as personal or sensitive data (compared case-insensitively). */
export const PII_CLASSIFICATIONS: readonly string[] = ['pii', 'confidential', 'restricted', 'sensitive'];

/** Custom properties Tarmac understands, by level. Any other `tarmac.*` property is an error. */
export const TARMAC_CONTRACT_PROPERTIES: readonly string[] = ['tarmac.compatibility', 'tarmac.freshnessSeconds'];
export const TARMAC_FIELD_PROPERTIES: readonly string[] = [
  'tarmac.eventTime', 'tarmac.maxLatenessSeconds', 'tarmac.pii', 'tarmac.default', 'tarmac.piiTreatment', 'tarmac.subject',
];

/** How a PII field is stored where Tarmac keeps copies of records: a keyed hash (joinable) or a fixed mask. */
export type PiiTreatment = 'hash' | 'mask';

/** The PII treatments a contract may declare. */
export const PII_TREATMENTS: readonly PiiTreatment[] = ['hash', 'mask'];

/** String formats the validator enforces; other `format` values are kept but not enforced. */
export const ENFORCED_STRING_FORMATS: readonly string[] = [
  'email', 'uuid', 'uri', 'ipv4', 'ipv6', 'hostname', 'date', 'date-time',
];

export type Bound = number | string;

export interface FieldRule {
  name: string;
  logicalType: LogicalType;
  required: boolean;
  nullable: boolean;
  unique: boolean;
  primaryKey: boolean;
  classification?: string;
  pii: boolean;
  minimum?: Bound;
  maximum?: Bound;
  exclusiveMinimum?: Bound;
  exclusiveMaximum?: Bound;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  validValues?: (string | number | boolean)[];
  maxNullFraction?: number;
  maxNullRows?: number;
  nullLimitExclusive?: boolean;
  defaultValue?: unknown;
  examples?: unknown[];
  /** How the field is stored when it is PII (absent: hash). */
  piiTreatment?: PiiTreatment;
  /** True when the field identifies the data subject (the person the record is about). */
  subject?: boolean;
}

export interface Contract {
  id: string;
  name: string;
  version: string;
  status: string;
  /** The name of the ODCS schema object the fields come from (undefined when the document has none). */
  schemaObject?: string;
  fields: FieldRule[];
  compatibility: Compatibility;
  eventTimeField?: string;
  maxLatenessSeconds?: number;
  freshnessSeconds?: number;
  primaryKey: string[];
  /** Non-fatal remarks from parsing (extra schema objects ignored, no properties, unenforced formats, …). */
  warnings: string[];
}
