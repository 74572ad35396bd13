import type { Command } from 'commander';
import type { TarmacClient } from './client.ts';

/** The lineage of a version as GET /v1/models/{m}/versions/{v}/lineage returns it. */
export interface LineageView {
  model: string;
  version: number;
  data: {
    batches: ({ id: string; missing: true } | {
      id: string; dataset: string; source: string; content_sha256: string | null; status: string;
      counts: { read: number; accepted: number; quarantined: number; duplicates: number };
      contract: string | null; started_at: string; finished_at: string | null; missing?: undefined;
    })[];
    training_data: string | null;
    training_data_sha256: string | null;
    reference: { rows: number; source: string } | null;
  };
  version_info: {
    artifact_sha256: string; artifact_size: number; contract: string | null; code_ref: string | null;
    parent_version: number | null; created_by: string; created_at: string;
  };
  serving: {
    aliases: string[];
    deployment: { revision: number; variants: { name: string; version: number; weight: number }[]; validation: { policy: string; fallback_version?: number } | null } | null;
    serves_as: { variant: string; weight: number }[];
    fallback_for: { variant: string; version: number }[];
  };
}

/** Renders a lineage as a tree for people: data → model → deployments. */
export function lineageTree(view: LineageView): string {
  const lines: string[] = [];
  const { data, version_info: info, serving } = view;
  lines.push('data');
  const dataItems: string[] = [];
  for (const b of data.batches) {
    if (b.missing) {
      dataItems.push(`batch ${b.id} (no longer exists)`);
      continue;
    }
    const sha = b.content_sha256 ? `, sha256 ${b.content_sha256.slice(0, 12)}…` : '';
    dataItems.push(`batch ${b.id}: dataset ${b.dataset}, ${b.source}${sha}, ${b.counts.accepted}/${b.counts.read} rows accepted, ${b.counts.quarantined} quarantined, contract ${b.contract ?? '-'}, ${b.status} ${b.finished_at ?? b.started_at}`);
  }
  if (data.training_data) dataItems.push(`training data ${data.training_data}${data.training_data_sha256 ? ` (sha256 ${data.training_data_sha256.slice(0, 12)}…)` : ''}`);
  if (data.reference) dataItems.push(`reference statistics from ${data.reference.source || '-'} (${data.reference.rows} rows)`);
  if (dataItems.length === 0) dataItems.push('(none recorded)');
  branch(lines, dataItems);
  lines.push(`└─► model ${view.model} version ${view.version}`);
  const modelItems = [
    `artifact sha256 ${info.artifact_sha256.slice(0, 12)}… (${info.artifact_size} bytes)`,
    `contract ${info.contract ?? '-'}`,
    `code ${info.code_ref ?? '-'}${info.parent_version ? `, parent version ${info.parent_version}` : ''}`,
    `registered by ${info.created_by} at ${info.created_at}`,
  ];
  branch(lines, modelItems, '    ');
  lines.push('    └─► serving');
  const servingItems = [`aliases: ${serving.aliases.length ? serving.aliases.join(', ') : '-'}`];
  if (serving.serves_as.length) servingItems.push(...serving.serves_as.map((v) => `variant ${v.variant}: ${v.weight}% of traffic (deployment revision ${serving.deployment!.revision})`));
  if (serving.fallback_for.length) servingItems.push(...serving.fallback_for.map((v) => `fallback version for variant ${v.variant} (version ${v.version}): answers records breaking its contract`));
  if (!serving.serves_as.length && !serving.fallback_for.length) {
    servingItems.push(serving.deployment ? `not deployed (the deployment serves ${serving.deployment.variants.map((v) => `v${v.version}`).join(', ')})` : 'not deployed');
  }
  branch(lines, servingItems, '        ');
  return lines.join('\n');
}

function branch(lines: string[], items: string[], indent = ''): void {
  items.forEach((item, i) => lines.push(`${indent}${i === items.length - 1 ? '└─' : '├─'} ${item}`));
}

/** Adds `tarmac lineage MODEL VERSION`: the batches a version was trained on, the version and where it serves. */
export function registerLineageCommand(program: Command, io: { client: () => TarmacClient; emit: (value: unknown, human: () => string) => void }): void {
  program.command('lineage <model> <version>')
    .description('data → model → deployments: the batches VERSION (a number, alias or latest) was trained on and where it serves now')
    .action(async (model: string, version: string) => {
      const view = await io.client().request<LineageView>('GET', `/v1/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/lineage`);
      io.emit(view, () => lineageTree(view));
    });
}
