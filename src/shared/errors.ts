/**
 * The error catalogue: every stable code Tarmac can raise, its HTTP status at the API edge and a short title.
 * docs/errors.md lists the same codes; a test fails when the two differ.
 */
export const ERROR_CATALOGUE = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  REQUEST_MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  REQUEST_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  REQUEST_TOO_LARGE: { status: 413, title: 'The body is larger than the limit' },
  REQUEST_NOT_FOUND: { status: 404, title: 'No such route' },
  REQUEST_TOO_DEEP: { status: 400, title: 'The JSON body is nested deeper than the limit' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are larger than the limit' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request was not received in time' },
  RATE_LIMITED: { status: 429, title: 'Too many requests for this key' },
  QUOTA_EXCEEDED: { status: 429, title: 'The daily quota of this key is used up' },
  OUTBOUND_REFUSED: { status: 400, title: 'The outbound URL is not allowed' },
  AUTH_MISSING: { status: 401, title: 'Authentication required' },
  AUTH_INVALID: { status: 401, title: 'The API key is not valid' },
  AUTH_FORBIDDEN: { status: 403, title: 'The role does not allow this action' },
  AUTH_OUT_OF_SCOPE: { status: 403, title: 'The key or token is scoped to other models or datasets' },
  AUTH_NO_ROLE: { status: 403, title: 'The token maps to no Tarmac role' },
  AUTH_ROUTE_UNDECLARED: { status: 403, title: 'The route declares no permission, so it is refused' },
  AUTH_RATE_LIMITED: { status: 429, title: 'Too many failed authentication attempts' },
  AUTH_PROVIDER_UNAVAILABLE: { status: 503, title: 'The identity provider cannot be reached' },
  KEY_NOT_FOUND: { status: 404, title: 'No such API key' },
  KEY_REVOKED: { status: 409, title: 'The API key is revoked' },
  KEY_ADMIN_EXISTS: { status: 409, title: 'An active admin key exists' },
  REGISTRY_MODEL_NOT_FOUND: { status: 404, title: 'No such model' },
  REGISTRY_VERSION_NOT_FOUND: { status: 404, title: 'No such model version' },
  REGISTRY_ALIAS_NOT_FOUND: { status: 404, title: 'No such alias' },
  REGISTRY_INVALID_NAME: { status: 400, title: 'The name is not allowed' },
  REGISTRY_INVALID_ONNX: { status: 422, title: 'The artifact is not a valid ONNX model' },
  REGISTRY_ARTIFACT_TOO_LARGE: { status: 413, title: 'The artifact is larger than the limit' },
  REGISTRY_DUPLICATE_ARTIFACT: { status: 409, title: 'This artifact is already registered' },
  REGISTRY_FEATURES_MISMATCH: { status: 422, title: 'The declared features do not match the model inputs' },
  SIGNATURE_NOT_FOUND: { status: 404, title: 'The version has no signature' },
  SIGNATURE_REQUIRED: { status: 409, title: 'The version must be signed before it is deployed' },
  SIGNATURE_INVALID: { status: 422, title: 'The signature does not verify against a trusted key' },
  REGISTRY_INTEGRITY_FAILED: { status: 500, title: 'A stored artifact does not match its content hash' },
  CONTRACT_INVALID: { status: 422, title: 'The data contract is not valid' },
  CONTRACT_NOT_FOUND: { status: 404, title: 'No such data contract or contract version' },
  CONTRACT_INCOMPATIBLE: { status: 409, title: 'The new contract version breaks compatibility with the previous one' },
  CONTRACT_FEATURES_MISMATCH: { status: 422, title: 'The model\'s features do not match the contract\'s fields' },
  DATASET_NOT_FOUND: { status: 404, title: 'No such dataset' },
  DATASET_EXISTS: { status: 409, title: 'A dataset with this name exists' },
  DATASET_INVALID: { status: 422, title: 'The dataset definition is not valid' },
  DATASET_BATCH_NOT_FOUND: { status: 404, title: 'No such ingestion batch' },
  QUARANTINE_NOT_FOUND: { status: 404, title: 'No such quarantined row' },
  QUARANTINE_NOT_OPEN: { status: 409, title: 'The quarantined row was already resolved' },
  INGEST_UNREADABLE: { status: 422, title: 'The source cannot be read as the declared format' },
  DEPLOYMENT_REVISION_NOT_FOUND: { status: 404, title: 'No such deployment revision' },
  DEPLOYMENT_NOTHING_TO_ROLL_BACK: { status: 409, title: 'There is no earlier deployment revision to return to' },
  ROLLOUT_NOT_FOUND: { status: 404, title: 'The model has no rollout' },
  ROLLOUT_IN_PROGRESS: { status: 409, title: 'A rollout of this model is already in progress' },
  ROLLOUT_FINISHED: { status: 409, title: 'The rollout has already finished' },
  APPROVAL_NOT_FOUND: { status: 404, title: 'No such approval' },
  APPROVAL_NOT_PENDING: { status: 409, title: 'The approval was already decided or has expired' },
  APPROVAL_SELF: { status: 403, title: 'A change cannot be approved by the person who asked for it' },
  EXPERIMENT_NOT_FOUND: { status: 404, title: 'The model has no experiment' },
  EXPERIMENT_RUNNING: { status: 409, title: 'An experiment on this model is already running' },
  SERVING_NOT_DEPLOYED: { status: 404, title: 'The model has no deployment' },
  SERVING_MODEL_NOT_READY: { status: 503, title: 'The model is not loaded yet' },
  SERVING_INPUT_INVALID: { status: 400, title: 'The inference input is not valid' },
  SERVING_INFERENCE_FAILED: { status: 500, title: 'The runtime failed to run the model' },
  FEEDBACK_INVALID: { status: 400, title: 'The feedback is not valid' },
  STORE_CONFLICT: { status: 409, title: 'A concurrent change conflicted' },
  PRIVACY_REGISTER_NOT_FOUND: { status: 404, title: 'The model has no automated-decision register entry' },
  RESIDENCY_VIOLATION: { status: 422, title: 'An endpoint is outside the allowed data residency' },
  CONFIG_INVALID: { status: 500, title: 'The configuration is not valid' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

/** A stable error code, `AREA_WHAT`. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** One problem with one field of the input: where it is, which rule it broke, and a message. */
export interface FieldIssue {
  /** A JSON-pointer-like path to the offending field, e.g. `/records/3/income`. */
  field: string;
  /** The rule that failed, e.g. `required`, `type`, `finite`, `enum`, `shape`. */
  rule: string;
  message: string;
}

/** Options for a TarmacError beyond its code and message. */
export interface TarmacErrorOptions {
  details?: Record<string, unknown>;
  issues?: FieldIssue[];
  cause?: unknown;
  retryable?: boolean;
}

/** The one error type of Tarmac: branch on `code`, never on `instanceof` of subclasses. */
export class TarmacError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly issues: FieldIssue[];
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: TarmacErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TarmacError';
    this.code = code;
    this.details = options.details ?? {};
    this.issues = options.issues ?? [];
    this.retryable = options.retryable ?? false;
  }

  /** The HTTP status the API edge maps this code to. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}

/** True when `err` is a TarmacError (works across module copies by checking the shape). */
export function isTarmacError(err: unknown): err is TarmacError {
  return (
    typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TarmacError' &&
    typeof (err as { code?: unknown }).code === 'string'
  );
}

/** Shorthand for a VALIDATION_FAILED error with one or more field issues. */
export function invalid(message: string, issues: FieldIssue[], code: ErrorCode = 'VALIDATION_FAILED'): TarmacError {
  return new TarmacError(code, message, { issues });
}
