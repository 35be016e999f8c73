import { POOL_NAME_PATTERN } from '@handover/process-table';
import * as v from '@handover/validation';

/**
 * The shape of handover.config.json as written by users: everything with a default is optional,
 * every object is strict (an unknown field is an error, so a typo never silently does nothing).
 * `parseConfig` turns a value of this shape into a `HandoverConfig` with every default filled in.
 */

const ROUTE_COOKIE_EXPECTED = 'expected a cookie name, e.g. "handover_route" (letters, digits and !#$%&\'*+-.^_`|~), or false to send none';

export const PORT_MESSAGE = 'expected an integer from 1 to 65535';
/** One rule for pool names everywhere: the process table's. */
export { POOL_NAME_PATTERN };
/** RFC 6265 cookie-name token characters. */
const COOKIE_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PATH_PARAMETER_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const HOST_PATTERN = /^[A-Za-z0-9._:-]+$/;
/** RFC 9110 field-name token characters. */
const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Environment variables Handover sets for every worker; a pool may not set them itself. */
export const RESERVED_WORKER_ENV = ['PORT', 'HANDOVER_WORKER', 'HANDOVER_REVISION'] as const;

/** Bounds of `pools[].logs.maxBytes`: 64 KiB (smaller would rotate on every look) to 1 TiB. */
export const LOG_MAX_BYTES_MIN = 64 * 1024;
export const LOG_MAX_BYTES_MAX = 2 ** 40;
const LOG_MAX_BYTES_MESSAGE = `expected a whole number of bytes from ${LOG_MAX_BYTES_MIN} (64 KiB) to ${LOG_MAX_BYTES_MAX} (1 TiB), e.g. 10485760 for 10 MiB`;

const port = () => v.number(PORT_MESSAGE).int(PORT_MESSAGE).min(1, PORT_MESSAGE).max(65535, PORT_MESSAGE);

const int = (min: number, max: number) => {
  const message = `expected an integer from ${min} to ${max}`;
  return v.number(message).int(message).min(min, message).max(max, message);
};

/** A number of seconds/milliseconds: finite, within [min, max]; `exclusiveMin` makes min itself invalid. */
const amount = (min: number, max: number, unit: string, exclusiveMin = false) => {
  const message = `expected a number of ${unit} ${exclusiveMin ? 'greater than' : 'from'} ${min}${exclusiveMin ? ` and at most ${max}` : ` to ${max}`}`;
  const base = v.number(message);
  return (exclusiveMin ? base.gt(min, message) : base.min(min, message)).max(max, message);
};

const text = (what: string, max = 1000) =>
  v
    .string(`expected ${what}`)
    .refine((s) => s.trim().length > 0, `expected ${what}, got an empty string`)
    .refine((s) => s.length <= max, `too long (at most ${max} characters)`);

const host = () =>
  v
    .string('expected a host name or IP address, e.g. "127.0.0.1"')
    .regex(HOST_PATTERN, 'expected a host name or IP address, e.g. "127.0.0.1" (no scheme, no port)');

const label = () =>
  text('a revision label, e.g. "v2" or a git commit', 200).refine((s) => !/[\r\n]/.test(s), 'must be a single line');

/**
 * Why a session probe's `pattern` cannot be used, or null: it must compile (as the probe
 * compiles it, with the `m` flag) and have a capture group, whose first one is the count.
 */
export function sessionProbePatternProblem(pattern: string): string | null {
  let compiled: RegExp;
  try {
    compiled = new RegExp(pattern, 'm');
  } catch (error) {
    const why = error instanceof Error ? error.message.replace(/^Invalid regular expression: /, '') : String(error);
    return `not a valid regular expression (${why}); in JSON a backslash is written twice, e.g. "active=(\\\\d+)"`;
  }
  // An alternative that matches the empty string makes every group show up in the result.
  const groups = new RegExp(`${compiled.source}|`, 'm').exec('')!.length - 1;
  if (groups === 0) return 'has no capture group: put parentheses around the count, e.g. "active=(\\\\d+)" (its first group is read as the number of sessions)';
  return null;
}

const sessionProbeSchema = v
  .strictObject(
    {
      path: v
        .string('expected a URL path starting with "/", e.g. "/stats"')
        .startsWith('/', 'expected a URL path starting with "/", e.g. "/stats"')
        .refine((s) => !/\s/.test(s), 'must not contain spaces'),
      pattern: v
        .string('expected a regular expression whose first capture group is the count, e.g. "active=(\\\\d+)"')
        .max(1000, 'too long (at most 1000 characters)')
        .superRefine((pattern, ctx) => {
          const problem = sessionProbePatternProblem(pattern);
          if (problem !== null) ctx.addIssue({ message: problem });
        })
        .optional(),
      intervalSeconds: amount(0.1, 3600, 'seconds').optional(),
      timeoutSeconds: amount(0, 60, 'seconds', true).optional(),
      headers: v
        .record(
          v.string().regex(HEADER_NAME_PATTERN, 'not a valid header name (letters, digits and !#$%&\'*+-.^_`|~)'),
          v
            .string('expected a string')
            .refine((s) => !/[\r\n\0]/.test(s), 'must be a single line'),
          'expected an object of request headers, e.g. { "Authorization": "Basic …" }',
        )
        .optional(),
    },
    'expected an object like { "path": "/stats" }, or null for no session probe',
  )
  .nullable();

export const listenSchema = v.strictObject({
  host: host().optional(),
  port: port().optional(),
});

/** The proxy's timeouts in seconds (0 = off); unset ones keep the proxy's defaults. */
const proxyTimeoutsSchema = v.strictObject(
  {
    headerSeconds: amount(0, 3600, 'seconds').optional(),
    requestSeconds: amount(0, 86_400, 'seconds').optional(),
    bodyIdleSeconds: amount(0, 3600, 'seconds').optional(),
    keepAliveSeconds: amount(0, 3600, 'seconds').optional(),
    sendSeconds: amount(0, 3600, 'seconds').optional(),
    connectSeconds: amount(0, 600, 'seconds').optional(),
    responseSeconds: amount(0, 86_400, 'seconds').optional(),
    upstreamIdleSeconds: amount(0, 86_400, 'seconds').optional(),
    upgradeSeconds: amount(0, 600, 'seconds').optional(),
    tunnelIdleSeconds: amount(0, 604_800, 'seconds').optional(),
    queueSeconds: amount(0, 3600, 'seconds').optional(),
  },
  'expected an object like { "responseSeconds": 60 }',
);

/** The proxy's resource limits (0 = none); unset ones keep the proxy's defaults. */
const proxyLimitsSchema = v.strictObject(
  {
    maxConnections: int(0, 10_000_000).optional(),
    maxConnectionsPerClient: int(0, 10_000_000).optional(),
    maxConnectionsPerWorker: int(0, 10_000_000).optional(),
    maxHeaderBytes: int(1024, 1_048_576).optional(),
    maxHeaderCount: int(0, 10_000).optional(),
    maxResponseHeaderBytes: int(1024, 16_777_216).optional(),
  },
  'expected an object like { "maxConnections": 10000 }',
);

export const proxySchema = v.strictObject({
  host: host().optional(),
  port: port().optional(),
  trustForwarded: v.boolean('expected true (a trusted proxy in front sets Forwarded/X-Forwarded-*) or false').optional(),
  timeouts: proxyTimeoutsSchema.optional(),
  limits: proxyLimitsSchema.optional(),
});

export const poolSchema = v.strictObject({
  name: v
    .string('expected a pool name: lowercase letters, digits and "-", starting with a letter, at most 32 characters')
    .regex(
      POOL_NAME_PATTERN,
      'expected a pool name: lowercase letters, digits and "-", starting with a letter, at most 32 characters',
    ),
  command: text('a shell command, e.g. "node server.js"', 10_000),
  cwd: text('a directory (relative to the config file, or absolute)').optional(),
  env: v
    .record(
      v.string(),
      v.string('expected a string (environment values are strings: quote numbers)'),
      'expected an object of environment variables, e.g. { "NODE_ENV": "production" }',
    )
    .superRefine((env, ctx) => {
      for (const key of Object.keys(env)) {
        if (!ENV_NAME_PATTERN.test(key)) {
          ctx.addIssue({ path: [key], message: 'not a valid environment variable name (letters, digits and "_", not starting with a digit)' });
        } else if ((RESERVED_WORKER_ENV as readonly string[]).includes(key)) {
          ctx.addIssue({ path: [key], message: `${key} is set by Handover for each worker; remove it` });
        }
      }
    })
    .optional(),
  basePort: port(),
  proxyPort: port().nullable().optional(),
  sessionCookie: v
    .string('expected a cookie name, e.g. "JSESSIONID"')
    .regex(COOKIE_NAME_PATTERN, 'expected a cookie name, e.g. "JSESSIONID" (letters, digits and !#$%&\'*+-.^_`|~)'),
  routeCookie: v
    .union([v.literal(false), v.string().regex(COOKIE_NAME_PATTERN, ROUTE_COOKIE_EXPECTED)], ROUTE_COOKIE_EXPECTED)
    .optional(),
  sessionPathParameter: v
    .string('expected a URL path parameter name, e.g. "jsessionid", or null')
    .regex(PATH_PARAMETER_PATTERN, 'expected a URL path parameter name, e.g. "jsessionid"')
    .nullable()
    .optional(),
  idleTimeoutSeconds: amount(0, 365 * 24 * 3600, 'seconds', true).optional(),
  maxSessions: int(1, 100_000_000).optional(),
  sessionCookieDuplicates: v.enum(['first', 'last'], 'expected "first" or "last"').optional(),
  sessionReports: v.boolean('expected true or false').optional(),
  sessionProbe: sessionProbeSchema.optional(),
  revision: label().optional(),
  revisionFile: text('a file path (relative to the config file, or absolute)').optional(),
  instances: int(0, 64).optional(),
  healthCheck: v
    .strictObject({
      path: v
        .string('expected a URL path starting with "/", e.g. "/healthz"')
        .startsWith('/', 'expected a URL path starting with "/", e.g. "/healthz"')
        .refine((s) => !/\s/.test(s), 'must not contain spaces')
        .optional(),
      timeoutSeconds: amount(0, 3600, 'seconds', true).optional(),
      intervalMs: int(10, 60_000).optional(),
      everySeconds: amount(0.05, 3600, 'seconds').optional(),
      failuresBeforeUnhealthy: int(1, 100).optional(),
    })
    .optional(),
  stop: v.strictObject({ graceSeconds: amount(0, 3600, 'seconds').optional() }).optional(),
  drain: v
    .strictObject({
      maxSeconds: amount(0, 365 * 24 * 3600, 'seconds', true)
        .nullable()
        .optional(),
      unconfirmedSeconds: amount(0, 24 * 3600, 'seconds').nullable().optional(),
    })
    .optional(),
  restart: v
    .strictObject({
      minUptimeSeconds: amount(0, 3600, 'seconds').optional(),
      maxRestarts: int(0, 1000).optional(),
      backoffInitialMs: int(0, 3_600_000).optional(),
      backoffMaxMs: int(0, 3_600_000).optional(),
    })
    .optional(),
  logLines: int(1, 100_000).optional(),
  logs: v
    .strictObject(
      {
        maxBytes: v
          .number(LOG_MAX_BYTES_MESSAGE)
          .int(LOG_MAX_BYTES_MESSAGE)
          .min(LOG_MAX_BYTES_MIN, LOG_MAX_BYTES_MESSAGE)
          .max(LOG_MAX_BYTES_MAX, LOG_MAX_BYTES_MESSAGE)
          .optional(),
        keep: int(0, 100).optional(),
      },
      'expected an object like { "maxBytes": 10485760, "keep": 3 }',
    )
    .optional(),
});

export const fileSchema = v.strictObject({
  /** Lets editors find a JSON schema; ignored. */
  $schema: v.string().optional(),
  proxy: proxySchema.optional(),
  control: listenSchema.optional(),
  dataDir: text('a directory (relative to the config file, or absolute)').optional(),
  pools: v
    .array(poolSchema, 'expected a list of pools, e.g. [{ "name": "web", ... }]')
    .min(1, 'expected at least one pool'),
});

export type ConfigFile = v.Infer<typeof fileSchema>;
export type PoolFile = v.Infer<typeof poolSchema>;
