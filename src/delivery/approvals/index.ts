/** Four-eyes promotion: changes that give a version the majority of the traffic wait for a second person. */
export { ApprovalService } from './approval.service.ts';
export type { Approval, ApprovalStatus, Gated, PromotionPolicy } from './approval.service.ts';
