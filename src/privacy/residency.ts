/**
 * Data residency: where every endpoint that holds or receives data is, checked against the regions data may live in.
 * Pure: the caller lists the endpoints (from the configuration and the stored alert channels) and raises the result.
 */
import { TarmacError } from '../shared/errors.ts';

/** The residency settings: allowed regions, this node's region, and declared regions of endpoints. */
export interface ResidencyConfig {
  /** Regions data may live in (upper-case codes such as `AU`); empty: residency is not enforced. */
  allowed: string[];
  /** The region of this node: its data directory (SQLite file, artifacts, keys) and loopback endpoints. */
  localRegion: string | undefined;
  /** The region of the database server (TARMAC_DATABASE_REGION). */
  databaseRegion: string | undefined;
  /** The region of the NATS server (TARMAC_NATS_REGION). */
  natsRegion: string | undefined;
  /** Regions of endpoints by host name (TARMAC_ENDPOINT_REGIONS=host=AU,…); wins over the per-kind settings. */
  hosts: Record<string, string>;
}

/** One place data goes to or lives in. */
export interface Endpoint {
  /** What it is, e.g. `database`, `nats`, `data directory`, `alert channel "ops" (webhook)`. */
  name: string;
  kind: 'local' | 'database' | 'nats' | 'notification';
  /** Its host, when it is a network endpoint. */
  host?: string;
}

/** An endpoint and the region it resolved to (undefined: undeclared). */
export interface EndpointRegion {
  endpoint: Endpoint;
  region: string | undefined;
  allowed: boolean;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
const REGION = /^[A-Z][A-Z0-9-]{1,31}$/;

/** Reads a comma-separated list of regions; throws CONFIG_INVALID naming `variable` on a malformed one. */
export function parseRegions(raw: string | undefined, variable: string): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const regions = raw.split(',').map((r) => r.trim().toUpperCase()).filter((r) => r !== '');
  const bad = regions.find((r) => !REGION.test(r));
  if (bad !== undefined) {
    throw new TarmacError('CONFIG_INVALID', `${variable} must be a comma-separated list of region codes like AU or AU,NZ (got "${bad}")`, { details: { variable } });
  }
  return [...new Set(regions)];
}

/** Reads one region code; throws CONFIG_INVALID naming `variable`. */
export function parseRegion(raw: string | undefined, variable: string): string | undefined {
  const regions = parseRegions(raw, variable);
  if (regions.length > 1) throw new TarmacError('CONFIG_INVALID', `${variable} must name one region`, { details: { variable } });
  return regions[0];
}

/** Reads `host=REGION,host=REGION`; throws CONFIG_INVALID naming the variable and the bad entry. */
export function parseEndpointRegions(raw: string | undefined, variable = 'TARMAC_ENDPOINT_REGIONS'): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw.trim() === '') return out;
  for (const entry of raw.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const at = entry.lastIndexOf('=');
    const host = entry.slice(0, at).trim().toLowerCase();
    const region = entry.slice(at + 1).trim().toUpperCase();
    if (at <= 0 || host === '' || !REGION.test(region)) {
      throw new TarmacError('CONFIG_INVALID', `${variable} must look like host=AU,other.host=NZ (bad entry "${entry}")`, { details: { variable } });
    }
    out[host] = region;
  }
  return out;
}

/** The host of a URL (or a bare host[:port]), lower-case; undefined when it has none. */
export function hostOf(url: string): string | undefined {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host === '' ? undefined : host;
  } catch {
    const bare = url.trim().toLowerCase().replace(/:\d+$/, '');
    return bare === '' ? undefined : bare;
  }
}

/** The declared region of an endpoint: by host first, then by kind; loopback hosts are this node's. */
export function regionOf(endpoint: Endpoint, config: ResidencyConfig): string | undefined {
  if (endpoint.host !== undefined) {
    const byHost = config.hosts[endpoint.host];
    if (byHost !== undefined) return byHost;
    if (LOOPBACK.has(endpoint.host)) return config.localRegion;
  }
  switch (endpoint.kind) {
    case 'local': return config.localRegion;
    case 'database': return config.databaseRegion;
    case 'nats': return config.natsRegion;
    case 'notification': return undefined;
  }
}

/** Every endpoint with its region and whether residency allows it (everything is allowed when no residency is set). */
export function checkResidency(endpoints: readonly Endpoint[], config: ResidencyConfig): EndpointRegion[] {
  return endpoints.map((endpoint) => {
    const region = regionOf(endpoint, config);
    const allowed = config.allowed.length === 0 || (region !== undefined && config.allowed.includes(region));
    return { endpoint, region, allowed };
  });
}

/**
 * Throws RESIDENCY_VIOLATION naming every endpoint outside the allowed regions or without a declared one, and how
 * to declare it; returns the resolved endpoints otherwise.
 */
export function enforceResidency(endpoints: readonly Endpoint[], config: ResidencyConfig): EndpointRegion[] {
  const checked = checkResidency(endpoints, config);
  const refused = checked.filter((c) => !c.allowed);
  if (refused.length === 0) return checked;
  const lines = refused.map(({ endpoint, region }) => {
    const where = endpoint.host === undefined ? endpoint.name : `${endpoint.name} (${endpoint.host})`;
    return region === undefined
      ? `${where} has no declared region (set ${hint(endpoint)})`
      : `${where} is in ${region}`;
  });
  throw new TarmacError('RESIDENCY_VIOLATION', `data residency is ${config.allowed.join(', ')} (TARMAC_DATA_RESIDENCY), but ${lines.join('; ')}`, {
    details: { allowed: config.allowed, endpoints: refused.map((r) => ({ name: r.endpoint.name, host: r.endpoint.host ?? null, region: r.region ?? null })) },
  });
}

function hint(endpoint: Endpoint): string {
  const byHost = endpoint.host === undefined ? '' : ` or TARMAC_ENDPOINT_REGIONS=${endpoint.host}=<REGION>`;
  switch (endpoint.kind) {
    case 'local': return 'TARMAC_REGION';
    case 'database': return `TARMAC_DATABASE_REGION${byHost}`;
    case 'nats': return `TARMAC_NATS_REGION${byHost}`;
    case 'notification': return `TARMAC_ENDPOINT_REGIONS=${endpoint.host ?? '<host>'}=<REGION>`;
  }
}
