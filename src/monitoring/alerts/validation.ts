import { invalid, type FieldIssue } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import { ALERT_OPS, ALERT_SEVERITIES, type AlertOp, type AlertRule, type AlertSeverity, type Silence } from './types.ts';

const RULE_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
// Prometheus' own grammar, so a rule can name any metric Tarmac exports.
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RULE_FIELDS = new Set(['name', 'metric', 'labels', 'op', 'threshold', 'forSeconds', 'severity', 'renotifySeconds', 'channels', 'description']);
const SILENCE_FIELDS = new Set(['id', 'matchers', 'startsAt', 'endsAt', 'createdBy', 'comment']);
const MAX_DESCRIPTION = 2048;
const MAX_COMMENT = 2048;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(input: Record<string, unknown>, known: Set<string>, at: string, issues: FieldIssue[]): void {
  for (const key of Object.keys(input)) {
    if (!known.has(key)) issues.push({ field: `${at}/${key}`, rule: 'unknown_field', message: `unknown field "${key}"` });
  }
}

function labelMap(value: unknown, field: string, issues: FieldIssue[], requireOne: boolean): Record<string, string> | undefined {
  if (!isObject(value)) {
    issues.push({ field, rule: 'type', message: 'must be an object of label name to string value' });
    return undefined;
  }
  const out: Record<string, string> = {};
  const entries = Object.entries(value);
  if (requireOne && entries.length === 0) issues.push({ field, rule: 'empty', message: 'needs at least one matcher' });
  for (const [key, v] of entries) {
    if (!LABEL_NAME.test(key)) issues.push({ field: `${field}/${key}`, rule: 'pattern', message: `"${key}" is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)` });
    if (typeof v !== 'string') issues.push({ field: `${field}/${key}`, rule: 'type', message: 'must be a string' });
    else out[key] = v;
  }
  return out;
}

function requiredString(input: Record<string, unknown>, key: string, at: string, issues: FieldIssue[]): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) {
    issues.push({ field: `${at}/${key}`, rule: 'required', message: `${key} is required` });
    return undefined;
  }
  if (typeof value !== 'string') {
    issues.push({ field: `${at}/${key}`, rule: 'type', message: 'must be a string' });
    return undefined;
  }
  if (value.trim() === '') {
    issues.push({ field: `${at}/${key}`, rule: 'empty', message: 'must not be empty' });
    return undefined;
  }
  return value;
}

function finiteNumber(input: Record<string, unknown>, key: string, at: string, issues: FieldIssue[], required: boolean): number | undefined {
  const value = input[key];
  if (value === undefined) {
    if (required) issues.push({ field: `${at}/${key}`, rule: 'required', message: `${key} is required` });
    return undefined;
  }
  if (typeof value !== 'number') {
    issues.push({ field: `${at}/${key}`, rule: 'type', message: 'must be a number' });
    return undefined;
  }
  if (!Number.isFinite(value)) {
    issues.push({ field: `${at}/${key}`, rule: 'finite', message: 'must be a finite number' });
    return undefined;
  }
  return value;
}

/** Collects the issues of one rule at JSON-pointer prefix `at`; returns the normalised rule when there are none. */
export function checkRule(input: unknown, at: string, issues: FieldIssue[]): AlertRule | undefined {
  const before = issues.length;
  if (!isObject(input)) {
    issues.push({ field: at || '/', rule: 'type', message: 'a rule must be an object' });
    return undefined;
  }
  unknownFields(input, RULE_FIELDS, at, issues);
  const name = requiredString(input, 'name', at, issues);
  if (name !== undefined && !RULE_NAME.test(name)) {
    issues.push({ field: `${at}/name`, rule: 'pattern', message: 'must start with a letter or _ and use only letters, digits, _ . : - (at most 128)' });
  }
  const metric = requiredString(input, 'metric', at, issues);
  if (metric !== undefined && !METRIC_NAME.test(metric)) {
    issues.push({ field: `${at}/metric`, rule: 'pattern', message: 'is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)' });
  }
  const labels = input.labels === undefined ? undefined : labelMap(input.labels, `${at}/labels`, issues, false);
  let op: AlertOp | undefined;
  if (input.op === undefined) issues.push({ field: `${at}/op`, rule: 'required', message: 'op is required' });
  else if (!ALERT_OPS.includes(input.op as AlertOp)) {
    issues.push({ field: `${at}/op`, rule: 'enum', message: `must be one of ${ALERT_OPS.join(' ')}` });
  } else op = input.op as AlertOp;
  const threshold = finiteNumber(input, 'threshold', at, issues, true);
  const forSeconds = finiteNumber(input, 'forSeconds', at, issues, true);
  if (forSeconds !== undefined && forSeconds < 0) issues.push({ field: `${at}/forSeconds`, rule: 'range', message: 'must be 0 or more' });
  let severity: AlertSeverity | undefined;
  if (input.severity === undefined) issues.push({ field: `${at}/severity`, rule: 'required', message: 'severity is required' });
  else if (!ALERT_SEVERITIES.includes(input.severity as AlertSeverity)) {
    issues.push({ field: `${at}/severity`, rule: 'enum', message: `must be one of ${ALERT_SEVERITIES.join(', ')}` });
  } else severity = input.severity as AlertSeverity;
  const renotifySeconds = finiteNumber(input, 'renotifySeconds', at, issues, false);
  if (renotifySeconds !== undefined && renotifySeconds <= 0) {
    issues.push({ field: `${at}/renotifySeconds`, rule: 'range', message: 'must be more than 0' });
  }
  const channels: string[] = [];
  if (input.channels === undefined) issues.push({ field: `${at}/channels`, rule: 'required', message: 'channels is required' });
  else if (!Array.isArray(input.channels)) issues.push({ field: `${at}/channels`, rule: 'type', message: 'must be an array of channel names' });
  else {
    // A rule nobody hears is almost always a mistake; silences are the way to mute one on purpose.
    if (input.channels.length === 0) issues.push({ field: `${at}/channels`, rule: 'min_items', message: 'needs at least one channel' });
    input.channels.forEach((c: unknown, i: number) => {
      if (typeof c !== 'string' || c.trim() === '') {
        issues.push({ field: `${at}/channels/${i}`, rule: 'type', message: 'must be a non-empty channel name' });
      } else if (channels.includes(c)) {
        issues.push({ field: `${at}/channels/${i}`, rule: 'unique', message: `channel "${c}" is listed twice` });
      } else channels.push(c);
    });
  }
  let description: string | undefined;
  if (input.description !== undefined) {
    if (typeof input.description !== 'string') issues.push({ field: `${at}/description`, rule: 'type', message: 'must be a string' });
    else if (input.description.length > MAX_DESCRIPTION) {
      issues.push({ field: `${at}/description`, rule: 'max_length', message: `must be at most ${MAX_DESCRIPTION} characters` });
    } else description = input.description;
  }
  if (issues.length > before) return undefined;
  const rule: AlertRule = {
    name: name!, metric: metric!, op: op!, threshold: threshold!, forSeconds: forSeconds!, severity: severity!, channels,
  };
  if (labels !== undefined) rule.labels = labels;
  if (renotifySeconds !== undefined) rule.renotifySeconds = renotifySeconds;
  if (description !== undefined) rule.description = description;
  return rule;
}

/** Validates one rule; throws VALIDATION_FAILED naming every bad field (paths relative to the rule). */
export function parseRule(input: unknown): AlertRule {
  const issues: FieldIssue[] = [];
  const rule = checkRule(input, '', issues);
  if (!rule) throw invalid('The alert rule is not valid', issues);
  return rule;
}

/**
 * Validates a rule set (names must be unique; with `knownChannels`, every channel must be one of them); throws
 * VALIDATION_FAILED naming every bad field as `/<index>/<field>`.
 */
export function parseRules(input: unknown, knownChannels?: ReadonlySet<string>): AlertRule[] {
  if (!Array.isArray(input)) throw invalid('The alert rules are not valid', [{ field: '/', rule: 'type', message: 'must be an array of rules' }]);
  const issues: FieldIssue[] = [];
  const rules: AlertRule[] = [];
  const seen = new Map<string, number>();
  input.forEach((raw: unknown, i: number) => {
    const rule = checkRule(raw, `/${i}`, issues);
    if (!rule) return;
    const first = seen.get(rule.name);
    if (first !== undefined) {
      issues.push({ field: `/${i}/name`, rule: 'unique', message: `rule "${rule.name}" is already defined at /${first}` });
      return;
    }
    seen.set(rule.name, i);
    if (knownChannels) {
      rule.channels.forEach((c, j) => {
        if (!knownChannels.has(c)) issues.push({ field: `/${i}/channels/${j}`, rule: 'unknown_channel', message: `no channel named "${c}" is configured` });
      });
    }
    rules.push(rule);
  });
  if (issues.length > 0) throw invalid('The alert rules are not valid', issues);
  return rules;
}

function instant(input: Record<string, unknown>, key: string, issues: FieldIssue[], required: boolean): number | undefined {
  const value = input[key];
  if (value === undefined) {
    if (required) issues.push({ field: `/${key}`, rule: 'required', message: `${key} is required` });
    return undefined;
  }
  // The API speaks ISO-8601; the domain speaks epoch milliseconds; accept both so neither side converts by hand.
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    issues.push({ field: `/${key}`, rule: 'type', message: 'must be epoch milliseconds or an ISO-8601 instant' });
    return undefined;
  }
  return ms;
}

/** Validates a new silence at `now` (matchers non-empty, ends after it starts and in the future); throws VALIDATION_FAILED. */
export function parseSilence(input: unknown, now: number): Silence {
  if (!isObject(input)) throw invalid('The silence is not valid', [{ field: '/', rule: 'type', message: 'a silence must be an object' }]);
  const issues: FieldIssue[] = [];
  unknownFields(input, SILENCE_FIELDS, '', issues);
  let id: string | undefined;
  if (input.id !== undefined) id = requiredString(input, 'id', '', issues);
  const matchers = input.matchers === undefined
    ? (issues.push({ field: '/matchers', rule: 'required', message: 'matchers is required' }), undefined)
    // A silence without matchers would mute everything: Alertmanager refuses it too.
    : labelMap(input.matchers, '/matchers', issues, true);
  const startsAt = instant(input, 'startsAt', issues, false) ?? now;
  const endsAt = instant(input, 'endsAt', issues, true);
  if (endsAt !== undefined) {
    if (endsAt <= startsAt) issues.push({ field: '/endsAt', rule: 'range', message: 'must be after startsAt' });
    else if (endsAt <= now) issues.push({ field: '/endsAt', rule: 'range', message: 'must be in the future' });
  }
  const createdBy = requiredString(input, 'createdBy', '', issues);
  const comment = requiredString(input, 'comment', '', issues);
  if (comment !== undefined && comment.length > MAX_COMMENT) {
    issues.push({ field: '/comment', rule: 'max_length', message: `must be at most ${MAX_COMMENT} characters` });
  }
  if (issues.length > 0) throw invalid('The silence is not valid', issues);
  return { id: id ?? newId(), matchers: matchers!, startsAt, endsAt: endsAt!, createdBy: createdBy!, comment: comment! };
}
