/**
 * A reproducible payments CSV for ingestion tests and benchmarks (contract: test/fixtures/payments.odcs.yaml):
 * exactly 5% bad rows (one rule broken each, cycling through eight kinds) and 2% exact duplicates of an earlier good
 * row; every other row is good with a unique id. Event times rise one second per row, so nothing is late.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** How a bad row breaks the contract, and the (field, rule) the quarantine must report for it. */
export const BAD_KINDS = [
  { kind: 'amount-text', field: '/amount', rule: 'type' },
  { kind: 'amount-negative', field: '/amount', rule: 'minimum' },
  { kind: 'category-unknown', field: '/category', rule: 'enum' },
  { kind: 'email-missing', field: '/email', rule: 'required' },
  { kind: 'note-too-long', field: '/note', rule: 'max_length' },
  { kind: 'cells-missing', field: '', rule: 'parse' },
  { kind: 'time-invalid', field: '/event_time', rule: 'format' },
  { kind: 'id-fraction', field: '/id', rule: 'type' },
] as const;

/** What a generated file holds. */
export interface PaymentsFile {
  rows: number;
  good: number;
  bad: number;
  duplicates: number;
  /** The sum of the good rows' ids (each stored once ⇔ this sum over stored rows, with the count). */
  goodIdSum: number;
  /** Bad rows by kind. */
  badByKind: Record<string, number>;
}

const CATEGORIES = ['food', 'travel', 'other'];
const START = Date.UTC(2026, 0, 1);

/** Whether row `i` (0-based) is bad (every 20th, offset 7) or a duplicate (every 50th, offset 13; never overlapping). */
export function rowKind(i: number): 'good' | 'bad' | 'duplicate' {
  if (i % 20 === 7) return 'bad';
  if (i % 50 === 13) return 'duplicate';
  return 'good';
}

function goodLine(id: number, i: number): string {
  const amount = ((id * 7919) % 100_000) / 100;
  const note = i % 3 === 0 ? '' : `n${id % 997}`;
  return `${id},user${id}@example.com,${amount},${CATEGORIES[id % 3]},${note},${new Date(START + i * 1000).toISOString()}`;
}

function badLine(i: number, kind: (typeof BAD_KINDS)[number]['kind']): string {
  const id = 50_000_000 + i;
  const time = new Date(START + i * 1000).toISOString();
  switch (kind) {
    case 'amount-text': return `${id},u${id}@example.com,twelve,food,,${time}`;
    case 'amount-negative': return `${id},u${id}@example.com,-5,food,,${time}`;
    case 'category-unknown': return `${id},u${id}@example.com,5,cars,,${time}`;
    case 'email-missing': return `${id},,5,food,,${time}`;
    case 'note-too-long': return `${id},u${id}@example.com,5,food,${'x'.repeat(41)},${time}`;
    case 'cells-missing': return `${id},u${id}@example.com,5,food`;
    case 'time-invalid': return `${id},u${id}@example.com,5,food,,yesterday`;
    case 'id-fraction': return `${id}.5,u${id}@example.com,5,food,,${time}`;
  }
}

/** Writes `rows` rows (plus the header) to `path`, streaming; returns what the file holds. */
export async function writePaymentsCsv(path: string, rows: number): Promise<PaymentsFile> {
  const out = createWriteStream(path);
  const info: PaymentsFile = { rows, good: 0, bad: 0, duplicates: 0, goodIdSum: 0, badByKind: {} };
  let buffer = 'id,email,amount,category,note,event_time\n';
  let nextId = 1;
  let previousGood = '';
  for (let i = 0; i < rows; i++) {
    const kind = rowKind(i);
    let line: string;
    if (kind === 'bad') {
      const bad = BAD_KINDS[Math.floor(i / 20) % BAD_KINDS.length]!;
      line = badLine(i, bad.kind);
      info.bad++;
      info.badByKind[bad.kind] = (info.badByKind[bad.kind] ?? 0) + 1;
    } else if (kind === 'duplicate' && previousGood !== '') {
      line = previousGood;
      info.duplicates++;
    } else {
      const id = nextId++;
      line = goodLine(id, i);
      previousGood = line;
      info.good++;
      info.goodIdSum += id;
    }
    buffer += line + '\n';
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await once(out, 'finish');
  return info;
}
