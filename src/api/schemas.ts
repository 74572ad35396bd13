import { ROLES } from '../security/roles.ts';
/** JSON Schemas shared by routes: they validate requests at the edge and document the API in /openapi.json. */

export const problemSchema = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details; /v2 routes also carry the protocol\'s `error` string.',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string' },
    request_id: { type: 'string' },
    error: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, rule: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
  additionalProperties: true,
} as const;

export const modelNameParam = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', description: 'model name', maxLength: 200 } },
} as const;

export const modelVersionParams = {
  type: 'object',
  required: ['name', 'version'],
  properties: {
    name: { type: 'string', maxLength: 200 },
    version: { type: 'string', description: 'version number', maxLength: 200 },
  },
} as const;

const scalar = { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }, { type: 'null' }] };

export const recordsRequestSchema = {
  type: 'object',
  description: 'One object per record, keyed by feature name.',
  required: ['records'],
  additionalProperties: false,
  properties: {
    // Only the JSON kinds are checked here; each value's type, range and presence are checked against the model's
    // signature by the records codec, which reports every problem with its record index.
    records: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', description: 'feature name → number, string or boolean', additionalProperties: scalar },
    },
    subjects: {
      type: 'array',
      description: 'Optional: per record, the key of the person it is about (or null). Logged with the answer as its keyed hash, so data subject requests (GET /v1/privacy/export, POST /v1/privacy/erase) find it.',
      items: { type: ['string', 'null'], minLength: 1, maxLength: 1000 },
    },
  },
} as const;

export const recordsResponseSchema = {
  type: 'object',
  properties: {
    model: { type: 'string' },
    version: { type: 'integer' },
    variant: { type: 'string' },
    request_id: { type: 'string' },
    predictions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'prediction id, for feedback' },
          version: { type: 'integer' },
          prediction: {},
          probabilities: { type: 'object', additionalProperties: { type: 'number' } },
          outputs: { type: 'object', additionalProperties: true },
          imputed: { type: 'array', items: { type: 'string' }, description: 'fields replaced by the data contract\'s defaults or the version\'s reference medians/modes (policy impute)' },
          imputed_from: {
            type: 'object', additionalProperties: { type: 'string', enum: ['default', 'median', 'mode'] },
            description: 'per imputed field, where its value came from: the contract\'s tarmac.default, or the version\'s reference median or mode',
          },
          fallback: { type: 'boolean', description: 'true when the fallback rule or fallback version answered instead of the model (policy fallback); `version` then names the version that answered' },
          violations: {
            type: 'array', description: 'the contract violations that sent the record to the fallback',
            items: { type: 'object', properties: { field: { type: 'string' }, rule: { type: 'string' } } },
          },
        },
      },
    },
  },
} as const;

export const feedbackRequestSchema = {
  type: 'object',
  required: ['items'],
  additionalProperties: false,
  properties: {
    items: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['prediction_id', 'label'],
        additionalProperties: false,
        properties: {
          prediction_id: { type: 'string', minLength: 1, maxLength: 100 },
          label: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }] },
        },
      },
    },
  },
} as const;

const v2Tensor = {
  type: 'object',
  required: ['name', 'shape', 'datatype', 'data'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
    datatype: { type: 'string' },
    parameters: { type: 'object' },
    data: {},
  },
} as const;

export const v2InferRequestSchema = {
  type: 'object',
  description: 'Open Inference Protocol v2 inference request.',
  properties: {
    id: { type: 'string' },
    parameters: { type: 'object' },
    inputs: { type: 'array', items: v2Tensor },
    outputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, parameters: { type: 'object' } } } },
  },
} as const;

export const v2InferResponseSchema = {
  type: 'object',
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
    parameters: { type: 'object', additionalProperties: true },
    outputs: { type: 'array', items: v2Tensor },
  },
} as const;

const tensorMetadata = {
  type: 'object',
  properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
} as const;

export const v2ModelMetadataSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: tensorMetadata },
    outputs: { type: 'array', items: tensorMetadata },
  },
} as const;

export const registerVersionSchema = {
  type: 'object',
  required: ['artifact_sha256'],
  additionalProperties: false,
  properties: {
    artifact_sha256: { type: 'string', description: 'the sha256 returned by POST /v1/artifacts' },
    features: { type: 'array', items: { type: 'string' }, description: 'feature names, in the column order of a matrix input' },
    task: { type: 'string', enum: ['classification', 'regression', 'other'] },
    class_labels: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
    contract: { type: 'string', minLength: 1, maxLength: 200, description: 'bind to a data contract: NAME (its latest version) or NAME@VERSION; feature names must equal its field names' },
    description: { type: 'string', maxLength: 2000 },
    owner: { type: 'string', maxLength: 200 },
    tags: { type: 'object', additionalProperties: { type: 'string' } },
    metrics: { type: 'object', additionalProperties: { type: 'number' } },
    lineage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        training_data: { type: 'string', maxLength: 2000 },
        training_data_sha256: { type: 'string', maxLength: 128 },
        code_ref: { type: 'string', maxLength: 2000 },
        parent_version: { type: 'integer', minimum: 1 },
        dataset_batches: {
          type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 200 },
          description: 'ids of the ingestion batches the version was trained on; each must exist',
        },
      },
    },
    reference: {
      type: 'object',
      description: 'reference statistics of the training data (tarmac models register --reference computes them): imputed at the serving edge under policy impute after the contract\'s declared defaults',
      additionalProperties: false,
      required: ['rows'],
      properties: {
        rows: { type: 'integer', minimum: 0, description: 'rows read from the source' },
        medians: { type: 'object', additionalProperties: { type: 'number' }, description: 'feature → median of a numeric field' },
        modes: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] }, description: 'feature → most frequent value of a string or boolean field' },
        source: { type: 'string', maxLength: 2000, description: 'where the statistics came from, e.g. the file name' },
      },
    },
  },
} as const;

export const aliasBodySchema = {
  type: 'object',
  required: ['version'],
  additionalProperties: false,
  properties: { version: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', maxLength: 64 }] } },
} as const;

export const deploymentBodySchema = {
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['version'] }, { required: ['variants'] }],
  properties: {
    version: aliasBodySchema.properties.version,
    variants: {
      type: 'array', minItems: 1, maxItems: 10,
      description: 'A traffic split instead of one version: each variant a version (number or alias) and its weight (0–100; shares are weight ÷ the sum).',
      items: {
        type: 'object', required: ['name', 'version', 'weight'], additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' },
          version: aliasBodySchema.properties.version,
          weight: { type: 'number', minimum: 0, maximum: 100 },
        },
      },
    },
    shadows: {
      type: 'array', maxItems: 5,
      description: 'Versions that get a copy of every request: their answers are logged (variant = the shadow\'s name) and compared with the answer returned, never returned themselves.',
      items: {
        type: 'object', required: ['name', 'version'], additionalProperties: false,
        properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' }, version: aliasBodySchema.properties.version },
      },
    },
    batching: {
      type: 'object',
      description: 'Adaptive batching of this deployment; unset fields take the server defaults (TARMAC_BATCH_*).',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        max_batch_size: { type: 'integer', minimum: 1, maximum: 100000 },
        max_queue_delay_ms: { type: 'integer', minimum: 0, maximum: 10000 },
      },
    },
    validation: {
      type: 'object',
      description: 'What a record that breaks the version\'s bound data contract gets: reject (4xx naming row, field and rule), impute (the contract\'s declared defaults, then the version\'s reference medians/modes, flagged), fallback (the declared rule or fallback version answers instead of the model, flagged) or off. Default: reject.',
      additionalProperties: false,
      required: ['policy'],
      properties: {
        policy: { type: 'string', enum: ['reject', 'impute', 'fallback', 'off'] },
        fallback_version: {
          type: 'integer', minimum: 1,
          description: 'A version of the same model that answers violating records (policy fallback; exclusive with fallback): not bound to the same contract version, its features a subset of the deployed version\'s.',
        },
        fallback: {
          type: 'object',
          description: 'The fallback rule\'s answer (policy fallback), e.g. the majority class.',
          additionalProperties: false,
          required: ['prediction'],
          properties: {
            prediction: { anyOf: [{ type: 'number' }, { type: 'string' }, { type: 'boolean' }] },
            probabilities: { type: 'object', additionalProperties: { type: 'number', minimum: 0, maximum: 1 } },
          },
        },
      },
    },
  },
} as const;

const scopePatterns = {
  type: 'array', minItems: 1, maxItems: 100,
  items: { type: 'string', pattern: '^[A-Za-z0-9._*-]{1,200}$' },
} as const;

export const createKeySchema = {
  type: 'object',
  required: ['role'],
  additionalProperties: false,
  properties: {
    role: { type: 'string', enum: [...ROLES] },
    name: { type: 'string', minLength: 1, maxLength: 100 },
    scope: {
      type: 'object', additionalProperties: false, minProperties: 1,
      description: 'restrict the key to these models and/or datasets (exact names or globs with *); a kind left out is not restricted',
      properties: { models: scopePatterns, datasets: scopePatterns },
    },
    expires_at: { type: 'string', maxLength: 40, description: 'RFC 3339 date-time after which the key stops working' },
    expires_in_seconds: { type: 'integer', minimum: 1, maximum: 315_360_000, description: 'lifetime from now (instead of expires_at)' },
    limits: { $ref: 'keyLimits#' },
  },
} as const;

/** A key's own limits (PUT /v1/keys/{id}/limits and key creation). */
export const keyLimitsSchema = {
  $id: 'keyLimits',
  type: 'object',
  additionalProperties: false,
  description: 'the key\'s own limits instead of the server defaults; 0: unlimited',
  properties: {
    requests_per_minute: { type: 'integer', minimum: 0, maximum: 100_000_000, description: 'instead of TARMAC_RATE_LIMIT_PER_MINUTE' },
    records_per_day: { type: 'integer', minimum: 0, maximum: 1_000_000_000_000, description: 'instead of TARMAC_QUOTA_RECORDS_PER_DAY' },
  },
} as const;

export const rotateKeySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    grace_seconds: { type: 'integer', minimum: 0, maximum: 2_592_000, description: 'how long the old secret keeps working (default TARMAC_KEY_ROTATION_GRACE_SECONDS)' },
  },
} as const;

export const contractNameParam = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', description: 'contract name', maxLength: 200 } },
} as const;

export const contractVersionParams = {
  type: 'object',
  required: ['name', 'version'],
  properties: {
    name: { type: 'string', maxLength: 200 },
    version: { type: 'string', description: 'version number or "latest"', maxLength: 20 },
  },
} as const;

export const contractDiffQuery = {
  type: 'object',
  required: ['from', 'to'],
  additionalProperties: false,
  properties: {
    from: { type: 'string', description: 'version number or "latest"', maxLength: 20 },
    to: { type: 'string', description: 'version number or "latest"', maxLength: 20 },
  },
} as const;
