import type { AuditLog, Principal } from '../security/index.ts';
import type { Clock } from '../shared/clock.ts';
import { TarmacError, type FieldIssue } from '../shared/errors.ts';
import type { PrivacyStore } from '../store/index.ts';

/** Whether a model makes decisions alone or a person decides with its output (APP 1.8(b) and (c)). */
export type Automation = 'solely_automated' | 'substantially_assisted';

/** How a decision affects the person: legally, similarly significantly (APP 1.7, 1.9), or not significantly. */
export type DecisionEffect = 'legal' | 'similarly_significant' | 'not_significant';

/** The automation kinds a register entry may declare. */
export const AUTOMATIONS: readonly Automation[] = ['solely_automated', 'substantially_assisted'];
/** The effects a register entry may declare. */
export const DECISION_EFFECTS: readonly DecisionEffect[] = ['legal', 'similarly_significant', 'not_significant'];

/** What an organisation declares about the decisions one model makes or assists. */
export interface DecisionRegisterEntry {
  /** The kind of decision, e.g. "whether to approve a personal loan application". */
  decision: string;
  automation: Automation;
  /** How a person takes part (who reviews, when); expected for substantially assisted decisions. */
  human_review?: string;
  effect: DecisionEffect;
  effect_description?: string;
  /** Kinds of personal information beyond the contract's PII fields (e.g. "credit history"). */
  personal_information: string[];
  purpose: string;
  /** Who individuals contact about the decision (a role, team or address). */
  contact: string;
}

/** A register entry as the API shows it: the declaration plus what Tarmac derives from the contracts. */
export interface DecisionRegisterView extends DecisionRegisterEntry {
  model: string;
  /** The PII fields of the contracts bound to the model's deployed versions (else its latest version). */
  pii_fields: string[];
  /** Declared kinds and derived fields together: what the privacy policy lists. */
  personal_information_kinds: string[];
  updated_by: string;
  updated_at: string;
}

const TEXT = (max: number) => ({ max });
const LIMITS = { decision: TEXT(500), human_review: TEXT(1000), effect_description: TEXT(1000), purpose: TEXT(1000), contact: TEXT(500) };
const KEYS = new Set(['decision', 'automation', 'human_review', 'effect', 'effect_description', 'personal_information', 'purpose', 'contact']);

/** Validates a register body; throws VALIDATION_FAILED naming each bad field. */
export function parseDecisionRegister(body: unknown): DecisionRegisterEntry {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TarmacError('VALIDATION_FAILED', 'the decision register entry must be an object', { issues: [{ field: '/', rule: 'type', message: 'must be an object' }] });
  }
  const b = body as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(b)) if (!KEYS.has(key)) issues.push({ field: `/${key}`, rule: 'unknown_field', message: `is not allowed (allowed: ${[...KEYS].join(', ')})` });
  const text = (key: keyof typeof LIMITS, required: boolean): string | undefined => {
    const v = b[key];
    if (v === undefined) {
      if (required) issues.push({ field: `/${key}`, rule: 'required', message: 'is required' });
      return undefined;
    }
    if (typeof v !== 'string' || v.trim() === '' || v.length > LIMITS[key].max) {
      issues.push({ field: `/${key}`, rule: 'length', message: `must be a non-empty string of at most ${LIMITS[key].max} characters` });
      return undefined;
    }
    return v.trim();
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
    const v = b[key];
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    issues.push({ field: `/${key}`, rule: v === undefined ? 'required' : 'enum', message: `must be one of ${allowed.join(', ')}` });
    return undefined;
  };
  const decision = text('decision', true);
  const automation = oneOf('automation', AUTOMATIONS);
  const humanReview = text('human_review', false);
  const effect = oneOf('effect', DECISION_EFFECTS);
  const effectDescription = text('effect_description', false);
  const purpose = text('purpose', true);
  const contact = text('contact', true);
  const info = b.personal_information ?? [];
  const personal: string[] = [];
  if (!Array.isArray(info) || info.length > 50) {
    issues.push({ field: '/personal_information', rule: 'type', message: 'must be an array of at most 50 strings' });
  } else {
    info.forEach((v, i) => {
      if (typeof v !== 'string' || v.trim() === '' || v.length > 200) issues.push({ field: `/personal_information/${i}`, rule: 'length', message: 'must be a non-empty string of at most 200 characters' });
      else personal.push(v.trim());
    });
  }
  if (issues.length > 0) {
    throw new TarmacError('VALIDATION_FAILED', `the decision register entry is not valid: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`, { issues });
  }
  const entry: DecisionRegisterEntry = { decision: decision!, automation: automation!, effect: effect!, personal_information: [...new Set(personal)], purpose: purpose!, contact: contact! };
  if (humanReview !== undefined) entry.human_review = humanReview;
  if (effectDescription !== undefined) entry.effect_description = effectDescription;
  return entry;
}

/** The kinds of personal information of an entry: declared kinds, then the contract's PII fields in words. */
export function personalInformationKinds(declared: readonly string[], piiFields: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const kind of [...declared, ...piiFields.map((f) => f.replace(/[_-]+/g, ' ').trim())]) {
    const key = kind.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(kind);
    }
  }
  return out;
}

/** The automated-decision register: one entry per model, stored and audited; the policy statement is built from it. */
export class DecisionRegisterService {
  constructor(private readonly deps: {
    store: PrivacyStore;
    audit: AuditLog;
    clock: Clock;
    /** Checks that the model exists; throws REGISTRY_MODEL_NOT_FOUND. */
    modelExists: (model: string) => Promise<void>;
    /** The PII fields of the contracts bound to the model's deployed versions (else its latest version). */
    piiFieldsOf: (model: string) => Promise<string[]>;
  }) {}

  /** Creates or replaces a model's entry; audited. Throws VALIDATION_FAILED or REGISTRY_MODEL_NOT_FOUND. */
  async put(model: string, body: unknown, by: Principal): Promise<DecisionRegisterView> {
    const entry = parseDecisionRegister(body);
    await this.deps.modelExists(model);
    const updatedAt = this.deps.clock.now();
    const before = await this.deps.store.getRegister(model);
    await this.deps.audit.atomically(async () => {
      await this.deps.store.putRegister({ model, document: { ...entry }, updatedBy: by.id, updatedAt });
      await this.deps.audit.record(by, 'privacy.decision_register.set', `model:${model}`, { automation: entry.automation, effect: entry.effect, before: before?.document ?? null, after: entry });
    });
    return this.view(model, entry, by.id, updatedAt);
  }

  /** A model's entry. Throws REGISTRY_MODEL_NOT_FOUND, or PRIVACY_REGISTER_NOT_FOUND when none was declared. */
  async get(model: string): Promise<DecisionRegisterView> {
    await this.deps.modelExists(model);
    const row = await this.deps.store.getRegister(model);
    if (!row) {
      throw new TarmacError('PRIVACY_REGISTER_NOT_FOUND', `model ${model} has no automated-decision register entry; declare one with PUT /v1/models/${model}/decision-register`, { details: { model } });
    }
    return this.view(model, row.document as unknown as DecisionRegisterEntry, row.updatedBy, row.updatedAt);
  }

  /** Removes a model's entry; audited. Throws PRIVACY_REGISTER_NOT_FOUND when there is none. */
  async delete(model: string, by: Principal): Promise<void> {
    await this.deps.audit.atomically(async () => {
      if (!(await this.deps.store.deleteRegister(model))) {
        throw new TarmacError('PRIVACY_REGISTER_NOT_FOUND', `model ${model} has no automated-decision register entry`, { details: { model } });
      }
      await this.deps.audit.record(by, 'privacy.decision_register.delete', `model:${model}`, {});
    });
  }

  /** Every entry, by model name. */
  async list(): Promise<DecisionRegisterView[]> {
    const rows = await this.deps.store.listRegisters();
    return Promise.all(rows.map((r) => this.view(r.model, r.document as unknown as DecisionRegisterEntry, r.updatedBy, r.updatedAt)));
  }

  private async view(model: string, entry: DecisionRegisterEntry, updatedBy: string, updatedAt: number): Promise<DecisionRegisterView> {
    const piiFields = await this.deps.piiFieldsOf(model).catch(() => []);
    return {
      model, ...entry, pii_fields: piiFields,
      personal_information_kinds: personalInformationKinds(entry.personal_information, piiFields),
      updated_by: updatedBy, updated_at: new Date(updatedAt).toISOString(),
    };
  }
}
