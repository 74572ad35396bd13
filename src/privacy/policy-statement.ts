/**
 * The privacy-policy wording about automated decisions that the Australian Privacy Principles require from
 * 10 December 2026 (APP 1.7–1.9, inserted by the Privacy and Other Legislation Amendment Act 2024): where a computer
 * program uses personal information to make, or do a thing substantially and directly related to making, a decision
 * that could reasonably be expected to significantly affect an individual's rights or interests, the privacy policy
 * must say (a) the kinds of personal information used, (b) the kinds of decisions made solely by computer programs,
 * and (c) the kinds of decisions for which a thing substantially and directly related to making them is done by
 * computer programs. Pure: built from the decision register.
 */
import type { DecisionRegisterView } from './decision-register.ts';

/** The generated statement: the text, and the parts it was built from. */
export interface PolicyStatement {
  /** Markdown, ready to paste into a privacy policy (review it with whoever owns the policy). */
  text: string;
  personal_information: string[];
  solely_automated: string[];
  substantially_assisted: string[];
  /** Models whose register entry declares no significant effect: outside APP 1.7, not in the statement. */
  not_covered: string[];
  models: string[];
}

const EFFECT_WORDS = {
  legal: 'affect legal rights or obligations',
  similarly_significant: 'significantly affect rights or interests',
  not_significant: '',
} as const;

function sentence(s: string): string {
  const t = s.trim();
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** Builds the APP 1.8 statement from register entries (only those with a significant effect are covered). */
export function buildPolicyStatement(entries: readonly DecisionRegisterView[], organisation = 'We'): PolicyStatement {
  const covered = entries.filter((e) => e.effect !== 'not_significant');
  const notCovered = entries.filter((e) => e.effect === 'not_significant').map((e) => e.model);
  const kinds: string[] = [];
  const seen = new Set<string>();
  for (const e of covered) {
    for (const k of e.personal_information_kinds) {
      if (!seen.has(k.toLowerCase())) {
        seen.add(k.toLowerCase());
        kinds.push(k);
      }
    }
  }
  const describe = (e: DecisionRegisterView) => {
    const parts = [`${sentence(e.decision)} (purpose: ${e.purpose.replace(/\.$/, '')}; this can ${EFFECT_WORDS[e.effect]}${e.effect_description ? `: ${e.effect_description.replace(/\.$/, '')}` : ''}`];
    if (e.automation === 'substantially_assisted' && e.human_review) parts.push(`; human involvement: ${e.human_review.replace(/\.$/, '')}`);
    parts.push(`; contact: ${e.contact})`);
    return parts.join('');
  };
  const solely = covered.filter((e) => e.automation === 'solely_automated').map(describe);
  const assisted = covered.filter((e) => e.automation === 'substantially_assisted').map(describe);
  // "We use" but "Acme Pty Ltd uses".
  const we = organisation === 'We';
  const uses = we ? 'use' : 'uses';
  const doesNot = we ? 'do not use' : 'does not use';
  const list = (items: readonly string[], none: string) => (items.length === 0 ? none : items.map((i) => `- ${i}`).join('\n'));

  const text = covered.length === 0
    ? [
      '## Automated decisions',
      '',
      `${organisation} ${doesNot} computer programs to make, or to do things substantially and directly related to making, decisions that could reasonably be expected to significantly affect the rights or interests of individuals.`,
    ].join('\n')
    : [
      '## Automated decisions',
      '',
      `${organisation} ${uses} computer programs that use personal information to make decisions, or to do things substantially and directly related to making decisions, that could reasonably be expected to significantly affect the rights or interests of individuals.`,
      '',
      '### Kinds of personal information used by these computer programs',
      '',
      list(kinds.map(sentence), '- None.'),
      '',
      '### Kinds of decisions made solely by the operation of computer programs',
      '',
      list(solely, '- None: no decision of this kind is made by a computer program alone.'),
      '',
      '### Kinds of decisions for which computer programs do things substantially and directly related to making the decision',
      '',
      list(assisted, '- None.'),
    ].join('\n');
  return {
    text: text + '\n',
    personal_information: kinds,
    solely_automated: solely,
    substantially_assisted: assisted,
    not_covered: notCovered,
    models: covered.map((e) => e.model),
  };
}
