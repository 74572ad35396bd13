import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { TarmacClient } from './client.ts';
import { table, UsageError } from './output.ts';

/** What the privacy commands need from the program. */
export interface PrivacyContext {
  client: () => TarmacClient;
  emit: (value: unknown, human: () => string) => void;
}

interface Erasure {
  subject_hash: string;
  fields: string[];
  deleted: Record<string, number>;
}

interface Export {
  subject_hash: string;
  fields: string[];
  predictions: unknown[];
  feedback: unknown[];
  quarantine: unknown[];
  dataset_records: unknown[];
  truncated: boolean;
}

interface RetentionView {
  scope: string;
  name: string;
  settings: Record<string, number | null>;
  effective: Record<string, number | null>;
  default_days: number | null;
}

/** `N` days, `forever` (0) or `default` (null, the global default); throws UsageError naming the option. */
export function parseDays(raw: string, option: string): number | null {
  if (raw === 'default') return null;
  if (raw === 'forever') return 0;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 36_500) throw new UsageError(`${option} takes a number of days (0–36500), "forever" or "default", got "${raw}"`);
  return n;
}

function retentionText(view: RetentionView): string {
  const rows = Object.keys(view.settings).map((kind) => ({
    kind: kind.replace(/_days$/, ''),
    setting: view.settings[kind] === null ? 'default' : view.settings[kind] === 0 ? 'forever' : `${view.settings[kind]} days`,
    effective: view.effective[kind] === null ? 'kept forever' : `${view.effective[kind]} days`,
  }));
  return `${view.scope} ${view.name} (global default: ${view.default_days === null ? 'none' : `${view.default_days} days`})\n${table(rows, ['kind', 'setting', 'effective'])}`;
}

/** Adds `tarmac data …` (data subject requests), `tarmac retention …` and `tarmac privacy …`. */
export function addPrivacyCommands(program: Command, ctx: PrivacyContext): void {
  const data = program.command('data').description('data subject requests: export or erase what Tarmac holds about a person');
  data.command('export')
    .description('everything held about a data subject (prediction logs, feedback, quarantine, dataset records) as JSON')
    .requiredOption('--subject <key>', 'the subject key (the value of the contract\'s subject field, raw; its keyed hash is matched too)')
    .option('--field <name>', 'search this field instead of the fields contracts mark with tarmac.subject')
    .option('--out <file>', 'write the JSON to a file instead of printing it')
    .action(async (opts: { subject: string; field?: string; out?: string }) => {
      const query = new URLSearchParams({ subject: opts.subject });
      if (opts.field) query.set('field', opts.field);
      const result = await ctx.client().request<Export>('GET', `/v1/privacy/export?${query}`);
      if (opts.out) {
        await writeFile(opts.out, JSON.stringify(result, null, 2) + '\n', { mode: 0o600 });
        ctx.emit({ file: opts.out, subject_hash: result.subject_hash }, () => `wrote ${opts.out}: ${result.predictions.length} predictions, ${result.feedback.length} labels, ${result.quarantine.length} quarantined rows, ${result.dataset_records.length} dataset records${result.truncated ? ' (truncated)' : ''}`);
        return;
      }
      // The export is the data itself: JSON either way.
      ctx.emit(result, () => JSON.stringify(result, null, 2));
    });
  data.command('erase')
    .description('delete everything held about a data subject; the audit log keeps the counts and the key\'s keyed hash')
    .requiredOption('--subject <key>', 'the subject key')
    .option('--field <name>', 'search this field instead of the fields contracts mark with tarmac.subject')
    .action(async (opts: { subject: string; field?: string }) => {
      const result = await ctx.client().request<Erasure>('POST', '/v1/privacy/erase', { subject: opts.subject, ...(opts.field ? { field: opts.field } : {}) });
      ctx.emit(result, () => `erased subject ${result.subject_hash.slice(0, 12)}… (fields ${result.fields.join(', ')}): ${Object.entries(result.deleted).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    });

  const retention = program.command('retention').description('how long predictions, feedback and dataset records are kept');
  retention.command('show <scope> <name>')
    .description('a model\'s or dataset\'s retention periods (scope: model or dataset)')
    .action(async (scope: string, name: string) => {
      if (scope !== 'model' && scope !== 'dataset') throw new UsageError('SCOPE must be model or dataset');
      const view = await ctx.client().request<RetentionView>('GET', `/v1/${scope}s/${encodeURIComponent(name)}/retention`);
      ctx.emit(view, () => retentionText(view));
    });
  retention.command('set <scope> <name>')
    .description('set retention periods: days, "forever" or "default" (TARMAC_RETENTION_DAYS); options not given return to the default')
    .option('--predictions-days <n>', 'model: prediction logs (their feedback goes with them)')
    .option('--feedback-days <n>', 'model: feedback')
    .option('--records-days <n>', 'dataset: stored records (by their batch\'s start)')
    .option('--quarantine-days <n>', 'dataset: quarantined rows')
    .option('--batches-days <n>', 'dataset: batch records no row refers to any more')
    .action(async (scope: string, name: string, opts: Record<string, string | undefined>) => {
      const kinds = scope === 'model' ? ['predictions', 'feedback'] : scope === 'dataset' ? ['records', 'quarantine', 'batches'] : undefined;
      if (!kinds) throw new UsageError('SCOPE must be model or dataset');
      const body: Record<string, number | null> = {};
      for (const [key, value] of Object.entries(opts)) {
        if (value === undefined) continue;
        const kind = key.replace(/Days$/, '');
        if (!kinds.includes(kind)) throw new UsageError(`--${kind}-days does not apply to a ${scope}`);
        body[`${kind}_days`] = parseDays(value, `--${kind}-days`);
      }
      const view = await ctx.client().request<RetentionView>('PUT', `/v1/${scope}s/${encodeURIComponent(name)}/retention`, body);
      ctx.emit(view, () => retentionText(view));
    });

  const privacy = program.command('privacy').description('the automated-decision register and the privacy-policy statement');
  const register = privacy.command('register').description('what each model decides, how automated, with what personal information');
  register.command('set <model>')
    .description('declare (or replace) the model\'s register entry, from options or a JSON file')
    .option('--file <file>', 'a JSON document with the fields below')
    .option('--decision <text>', 'the kind of decision, e.g. "whether a loan application is approved"')
    .option('--automation <kind>', 'solely_automated or substantially_assisted')
    .option('--human-review <text>', 'how a person takes part')
    .option('--effect <kind>', 'legal, similarly_significant or not_significant')
    .option('--effect-description <text>', 'how the decision affects the person')
    .option('--personal-information <kinds>', 'comma-separated kinds beyond the contract\'s PII fields')
    .option('--purpose <text>', 'why the decision is made')
    .option('--contact <text>', 'who individuals contact')
    .action(async (model: string, opts: Record<string, string | undefined>) => {
      let body: Record<string, unknown> = {};
      if (opts.file) {
        try {
          body = JSON.parse(await readFile(opts.file, 'utf8')) as Record<string, unknown>;
        } catch (err) {
          throw new UsageError(`${opts.file}: ${(err as Error).message}`);
        }
      }
      const map: Record<string, string> = {
        decision: 'decision', automation: 'automation', humanReview: 'human_review', effect: 'effect',
        effectDescription: 'effect_description', purpose: 'purpose', contact: 'contact',
      };
      for (const [opt, field] of Object.entries(map)) if (opts[opt] !== undefined) body[field] = opts[opt];
      if (opts.personalInformation !== undefined) body.personal_information = opts.personalInformation.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const view = await ctx.client().request<{ model: string; personal_information_kinds: string[] }>('PUT', `/v1/models/${encodeURIComponent(model)}/decision-register`, body);
      ctx.emit(view, () => `register entry of ${view.model} saved; personal information: ${view.personal_information_kinds.join(', ') || '(none)'}`);
    });
  register.command('show <model>')
    .description('the model\'s register entry')
    .action(async (model: string) => {
      const view = await ctx.client().request<Record<string, unknown>>('GET', `/v1/models/${encodeURIComponent(model)}/decision-register`);
      ctx.emit(view, () => Object.entries(view).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`).join('\n'));
    });
  register.command('list')
    .description('every model\'s register entry')
    .action(async () => {
      const result = await ctx.client().request<{ entries: Record<string, unknown>[] }>('GET', '/v1/privacy/decision-register');
      ctx.emit(result, () => table(result.entries, ['model', 'automation', 'effect', 'decision']));
    });
  privacy.command('statement')
    .description('print the privacy-policy wording on automated decisions (Australian Privacy Principles 1.7–1.9)')
    .option('--organisation <name>', 'the organisation\'s name (default: "We")')
    .action(async (opts: { organisation?: string }) => {
      const query = opts.organisation ? `?${new URLSearchParams({ organisation: opts.organisation })}` : '';
      const result = await ctx.client().request<{ text: string }>('GET', `/v1/privacy/policy-statement${query}`);
      ctx.emit(result, () => result.text.trimEnd());
    });
}
