/**
 * Read an ODCS v3 YAML document into a Contract: YAML syntax → ODCS JSON Schema (ajv, draft 2019-09) → Tarmac's own
 * checks. Every problem is a CONTRACT_INVALID TarmacError whose issues point (JSON pointer) into the document.
 */
import { parseDocument } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2019.js';
import addFormatsImport from 'ajv-formats';
import { TarmacError } from '../shared/errors.ts';
import type { FieldIssue } from '../shared/errors.ts';
import odcsSchema from './odcs-v3.1.0.schema.json' with { type: 'json' };
import {
  COMPATIBILITY_MODES, ENFORCED_STRING_FORMATS, LOGICAL_TYPES, PII_CLASSIFICATIONS, TARMAC_CONTRACT_PROPERTIES,
  TARMAC_FIELD_PROPERTIES, PII_TREATMENTS,
} from './contract.ts';
import type { Bound, Compatibility, Contract, FieldRule, LogicalType, PiiTreatment } from './contract.ts';
import { parseTemporalBound } from './temporal.ts';
import { compilePattern, compileValidator } from './validator.ts';

type Json = Record<string, unknown>;

let odcsValidator: ValidateFunction | undefined;

/** The ODCS v3.1.0 JSON Schema validator, compiled once per process. */
function getOdcsValidator(): ValidateFunction {
  if (odcsValidator === undefined) {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    const addFormats = ((addFormatsImport as unknown as { default?: unknown }).default ?? addFormatsImport) as (a: Ajv2019) => void;
    addFormats(ajv);
    odcsValidator = ajv.compile(odcsSchema as object);
  }
  return odcsValidator;
}

function fail(message: string, issues: FieldIssue[]): never {
  throw new TarmacError('CONTRACT_INVALID', message, { issues });
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function schemaIssue(e: ErrorObject): FieldIssue {
  let field = e.instancePath;
  if (e.keyword === 'required' || e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
    const p = e.params as { missingProperty?: string; additionalProperty?: string; unevaluatedProperty?: string };
    const key = p.missingProperty ?? p.additionalProperty ?? p.unevaluatedProperty;
    if (key !== undefined) field = `${field}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  return { field, rule: `odcs.${e.keyword}`, message: e.message ?? 'does not match the ODCS schema' };
}

/** The noisy `if`/`oneOf`/`allOf` wrappers ajv adds around the real error carry no information of their own. */
const WRAPPER_KEYWORDS = new Set(['if', 'allOf', 'anyOf', 'oneOf', '$ref']);

/**
 * Turn ajv's errors into issues: drop wrapper keywords, merge the `required` errors of the branches of a failed
 * `oneOf`/`anyOf` into one "needs one of" issue, and drop `unevaluatedProperties` errors that only cascade from it.
 */
function odcsIssues(errors: ErrorObject[]): FieldIssue[] {
  const branchFailures = new Set(errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').map((e) => e.instancePath));
  const alternatives = new Map<string, string[]>();
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'required' && /\/(oneOf|anyOf)\/\d+\/required$/.test(e.schemaPath)) {
      const list = alternatives.get(e.instancePath) ?? [];
      list.push((e.params as { missingProperty: string }).missingProperty);
      alternatives.set(e.instancePath, list);
      continue;
    }
    if (WRAPPER_KEYWORDS.has(e.keyword)) continue;
    if (e.keyword === 'unevaluatedProperties' && branchFailures.has(e.instancePath)) continue;
    const i = schemaIssue(e);
    const k = `${i.field}|${i.rule}|${i.message}`;
    if (!seen.has(k)) {
      seen.add(k);
      issues.push(i);
    }
  }
  for (const [field, names] of alternatives) {
    issues.push({ field, rule: 'odcs.oneOf', message: `must have one of the properties ${[...new Set(names)].join(', ')}` });
  }
  if (issues.length === 0) issues.push(...errors.slice(0, 20).map(schemaIssue));
  return issues;
}

function customProps(node: Json): { property: string; value: unknown; index: number }[] {
  const cps = node.customProperties;
  if (!Array.isArray(cps)) return [];
  return cps.flatMap((cp, index) =>
    isObj(cp) && typeof cp.property === 'string' ? [{ property: cp.property, value: cp.value, index }] : []);
}

export interface ParseOptions {
  /** Which ODCS schema object to read (by name); default: the first one. */
  schemaObject?: string;
}

/** Parse and check an ODCS v3 YAML contract. Throws CONTRACT_INVALID with every issue found. */
export function parseContract(yamlText: string, options: ParseOptions = {}): Contract {
  // 1. YAML syntax.
  const doc = parseDocument(yamlText, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    fail('The contract is not valid YAML', doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const where = pos === undefined ? '' : `line ${pos.line}, column ${pos.col}: `;
      return { field: '', rule: 'yaml', message: `${where}${e.message.split('\n')[0] ?? e.message}` };
    }));
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });

  // 2. ODCS JSON Schema.
  const validate = getOdcsValidator();
  if (!validate(data)) {
    fail('The contract does not follow the ODCS v3 schema', odcsIssues(validate.errors ?? []));
  }
  const root = data as Json;

  // 3. Tarmac's own checks.
  const issues: FieldIssue[] = [];
  const warnings: string[] = [];
  const issue = (field: string, rule: string, message: string) => issues.push({ field, rule, message });

  let compatibility: Compatibility = 'backward';
  let freshnessSeconds: number | undefined;
  for (const cp of customProps(root)) {
    const at = `/customProperties/${cp.index}/value`;
    if (cp.property === 'tarmac.compatibility') {
      if (typeof cp.value === 'string' && (COMPATIBILITY_MODES as readonly string[]).includes(cp.value)) {
        compatibility = cp.value as Compatibility;
      } else {
        issue(at, 'tarmac.compatibility', `must be one of ${COMPATIBILITY_MODES.join(', ')}`);
      }
    } else if (cp.property === 'tarmac.freshnessSeconds') {
      if (typeof cp.value === 'number' && Number.isFinite(cp.value) && cp.value > 0) freshnessSeconds = cp.value;
      else issue(at, 'tarmac.freshnessSeconds', 'must be a number of seconds > 0');
    } else if (cp.property.startsWith('tarmac.')) {
      issue(`/customProperties/${cp.index}/property`, 'tarmac.unknown',
        `unknown Tarmac property "${cp.property}" at contract level (known: ${TARMAC_CONTRACT_PROPERTIES.join(', ')})`);
    }
  }

  const schemaList = Array.isArray(root.schema) ? root.schema.filter(isObj) : [];
  let objIndex = 0;
  if (options.schemaObject !== undefined) {
    objIndex = schemaList.findIndex((o) => o.name === options.schemaObject);
    if (objIndex < 0) fail('The contract has no such schema object', [{ field: '/schema', rule: 'schema_object', message: `no schema object named "${options.schemaObject}"` }]);
  } else if (schemaList.length > 1) {
    warnings.push(`the contract has ${schemaList.length} schema objects; using the first, "${String(schemaList[0]?.name)}"`);
  }
  const obj = schemaList[objIndex];
  if (obj === undefined) warnings.push('the contract has no schema object: it declares no fields');
  const base = `/schema/${objIndex}`;
  if (obj !== undefined) {
    for (const cp of customProps(obj)) {
      if (cp.property.startsWith('tarmac.')) {
        issue(`${base}/customProperties/${cp.index}/property`, 'tarmac.unknown',
          `Tarmac properties belong on the contract or on a property, not on a schema object ("${cp.property}")`);
      }
    }
  }
  const props = obj !== undefined && Array.isArray(obj.properties) ? obj.properties.filter(isObj) : [];
  if (obj !== undefined && props.length === 0) warnings.push(`schema object "${String(obj.name)}" has no properties: it declares no fields`);

  const fields: FieldRule[] = [];
  const seenNames = new Map<string, number>();
  let eventTimeField: string | undefined;
  let maxLatenessSeconds: number | undefined;
  const pkOrder: { name: string; pos: number; index: number }[] = [];
  const defaultsAt: { field: string; pointer: string }[] = [];

  props.forEach((p, i) => {
    const at = `${base}/properties/${i}`;
    const name = p.name as string;
    if (seenNames.has(name)) issue(`${at}/name`, 'unique_name', `property "${name}" is already declared at ${base}/properties/${seenNames.get(name)}`);
    else seenNames.set(name, i);

    let logicalType: LogicalType = 'string';
    if (typeof p.logicalType === 'string' && (LOGICAL_TYPES as readonly string[]).includes(p.logicalType)) {
      logicalType = p.logicalType as LogicalType;
    } else {
      warnings.push(`property "${name}" has no logicalType; treated as string`);
    }
    const required = p.required === true;
    const rule: FieldRule = {
      name, logicalType, required, nullable: !required, unique: p.unique === true, primaryKey: p.primaryKey === true, pii: false,
    };
    if (typeof p.classification === 'string') {
      rule.classification = p.classification;
      rule.pii = PII_CLASSIFICATIONS.includes(p.classification.toLowerCase());
    }
    if (Array.isArray(p.examples)) rule.examples = p.examples;
    if (rule.primaryKey) pkOrder.push({ name, pos: typeof p.primaryKeyPosition === 'number' && p.primaryKeyPosition > 0 ? p.primaryKeyPosition : Infinity, index: i });

    // logicalTypeOptions
    const o = isObj(p.logicalTypeOptions) ? p.logicalTypeOptions : {};
    const oAt = `${at}/logicalTypeOptions`;
    const temporal = logicalType === 'date' || logicalType === 'timestamp' || logicalType === 'time';
    const numeric = logicalType === 'number' || logicalType === 'integer';
    const bounds: Record<string, number> = {};
    for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const) {
      const v = o[key];
      if (v === undefined) continue;
      if (numeric && typeof v === 'number' && Number.isFinite(v)) {
        rule[key] = v;
        bounds[key] = v;
      } else if (temporal && typeof v === 'string' && !Number.isNaN(parseTemporalBound(logicalType as 'date', v))) {
        rule[key] = v as Bound;
        bounds[key] = parseTemporalBound(logicalType as 'date', v);
      } else if (numeric || temporal) {
        issue(`${oAt}/${key}`, 'bound', numeric ? 'must be a finite number' : `must be an ISO-8601 ${logicalType}`);
      }
    }
    const lo = bounds.minimum ?? bounds.exclusiveMinimum;
    const hi = bounds.maximum ?? bounds.exclusiveMaximum;
    if (lo !== undefined && hi !== undefined && (lo > hi || (lo === hi && (bounds.minimum === undefined || bounds.maximum === undefined)))) {
      issue(oAt, 'range', 'the lower bound must not exceed the upper bound: no value could pass');
    }
    if (typeof o.minLength === 'number') rule.minLength = o.minLength;
    if (typeof o.maxLength === 'number') rule.maxLength = o.maxLength;
    if (rule.minLength !== undefined && rule.maxLength !== undefined && rule.minLength > rule.maxLength) {
      issue(oAt, 'range', 'minLength must not exceed maxLength');
    }
    if (typeof o.pattern === 'string') {
      if (compilePattern(o.pattern) === undefined) issue(`${oAt}/pattern`, 'pattern', 'is not a valid ECMA-262 regular expression');
      else rule.pattern = o.pattern;
    }
    if (typeof o.format === 'string') {
      rule.format = o.format;
      if (logicalType === 'string' && !ENFORCED_STRING_FORMATS.includes(o.format)) {
        warnings.push(`property "${name}": string format "${o.format}" is not enforced`);
      }
    }

    // quality rules
    const quality = Array.isArray(p.quality) ? p.quality : [];
    quality.forEach((q, qi) => {
      if (!isObj(q)) return;
      const qAt = `${at}/quality/${qi}`;
      if (q.metric === 'invalidValues' && isObj(q.arguments) && Array.isArray(q.arguments.validValues)) {
        const values: (string | number | boolean)[] = [];
        q.arguments.validValues.forEach((v, vi) => {
          if (v === null) return; // nulls are governed by `required`
          if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') values.push(v);
          else issue(`${qAt}/arguments/validValues/${vi}`, 'valid_values', 'must be a string, number or boolean');
        });
        rule.validValues = values;
      } else if (q.metric === 'nullValues') {
        const strict = typeof q.mustBeLessThan === 'number';
        const x = strict ? q.mustBeLessThan : typeof q.mustBeLessOrEqualTo === 'number' ? q.mustBeLessOrEqualTo : q.mustBe === 0 ? 0 : undefined;
        if (typeof x !== 'number') {
          warnings.push(`property "${name}": nullValues rule at ${qAt} uses an operator Tarmac does not enforce`);
          return;
        }
        const unit = q.unit ?? 'rows';
        if (unit === 'percent') {
          if (x < 0 || x > 100) issue(`${qAt}`, 'null_limit', 'a percent limit must be between 0 and 100');
          else rule.maxNullFraction = x / 100;
        } else if (unit === 'rows') {
          if (x < 0) issue(`${qAt}`, 'null_limit', 'a row limit must be ≥ 0');
          else rule.maxNullRows = x;
        } else {
          issue(`${qAt}/unit`, 'null_limit', 'unit must be percent or rows');
          return;
        }
        if (strict) rule.nullLimitExclusive = true;
      }
    });

    // Tarmac custom properties
    for (const cp of customProps(p)) {
      const cpAt = `${at}/customProperties/${cp.index}`;
      switch (cp.property) {
        case 'tarmac.pii':
          if (typeof cp.value === 'boolean') rule.pii = cp.value;
          else issue(`${cpAt}/value`, 'tarmac.pii', 'must be true or false');
          break;
        case 'tarmac.eventTime':
          if (cp.value !== true && cp.value !== false) issue(`${cpAt}/value`, 'tarmac.eventTime', 'must be true or false');
          else if (cp.value) {
            if (logicalType !== 'date' && logicalType !== 'timestamp') issue(`${cpAt}/value`, 'tarmac.eventTime', 'the event-time field must be a date or timestamp');
            else if (eventTimeField !== undefined) issue(`${cpAt}/value`, 'tarmac.eventTime', `only one event-time field is allowed ("${eventTimeField}" already is)`);
            else eventTimeField = name;
          }
          break;
        case 'tarmac.maxLatenessSeconds':
          if (typeof cp.value === 'number' && Number.isFinite(cp.value) && cp.value >= 0) maxLatenessSeconds = cp.value;
          else issue(`${cpAt}/value`, 'tarmac.maxLatenessSeconds', 'must be a number of seconds ≥ 0');
          if (!customProps(p).some((c) => c.property === 'tarmac.eventTime' && c.value === true)) {
            issue(`${cpAt}/property`, 'tarmac.maxLatenessSeconds', 'belongs on the event-time field (tarmac.eventTime: true)');
          }
          break;
        case 'tarmac.piiTreatment':
          if (typeof cp.value === 'string' && (PII_TREATMENTS as readonly string[]).includes(cp.value)) rule.piiTreatment = cp.value as PiiTreatment;
          else issue(`${cpAt}/value`, 'tarmac.piiTreatment', `must be one of ${PII_TREATMENTS.join(', ')}`);
          break;
        case 'tarmac.subject':
          if (typeof cp.value === 'boolean') rule.subject = cp.value;
          else issue(`${cpAt}/value`, 'tarmac.subject', 'must be true or false');
          break;
        case 'tarmac.default':
          rule.defaultValue = cp.value;
          defaultsAt.push({ field: name, pointer: `${cpAt}/value` });
          break;
        default:
          if (cp.property.startsWith('tarmac.')) {
            issue(`${cpAt}/property`, 'tarmac.unknown',
              `unknown Tarmac property "${cp.property}" on a property (known: ${TARMAC_FIELD_PROPERTIES.join(', ')})`);
          }
      }
    }
    fields.push(rule);
  });

  const contract: Contract = {
    id: root.id as string,
    name: typeof root.name === 'string' ? root.name : typeof obj?.name === 'string' ? obj.name : (root.id as string),
    version: root.version as string,
    status: root.status as string,
    fields,
    compatibility,
    primaryKey: pkOrder.sort((a, b) => a.pos - b.pos || a.index - b.index).map((k) => k.name),
    warnings,
  };
  if (obj !== undefined && typeof obj.name === 'string') contract.schemaObject = obj.name;
  if (eventTimeField !== undefined) contract.eventTimeField = eventTimeField;
  if (maxLatenessSeconds !== undefined) contract.maxLatenessSeconds = maxLatenessSeconds;
  if (freshnessSeconds !== undefined) contract.freshnessSeconds = freshnessSeconds;

  // Defaults must themselves pass the field's rules (only when the rest is sound, so the validator compiles cleanly).
  if (issues.length === 0 && defaultsAt.length > 0) {
    const single = compileValidator(contract, { allowUnknown: true });
    for (const d of defaultsAt) {
      const rule = fields.find((f) => f.name === d.field);
      for (const v of single.validate({ [d.field]: rule?.defaultValue }, '')) {
        if (v.name === d.field) issue(d.pointer, 'tarmac.default', `the default ${v.message} (${v.rule})`);
      }
    }
  }
  if (issues.length > 0) fail('The contract is not valid for Tarmac', issues);
  return contract;
}
