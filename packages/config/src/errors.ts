/** One problem found in a configuration; `path` is like `pools[0].basePort` ('' for the file as a whole). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/**
 * Something in a valid configuration that will probably cause trouble later; `path` names the
 * field as in a ConfigIssue. Print it with `formatConfigWarning`.
 */
export type ConfigWarning = ConfigIssue;

/** `warning: pools[0].basePort: …`, the same shape as a ConfigError's lines. */
export function formatConfigWarning(warning: ConfigWarning): string {
  return `warning: ${warning.path ? `${warning.path}: ` : ''}${warning.message}`;
}

/**
 * Thrown for every configuration problem: a missing or unreadable file, bad JSON, or values that
 * fail validation. `message` names the file and lists every problem, one per line:
 *
 *     Invalid configuration in /app/handover.config.json:
 *       - pools[0].basePort: expected an integer from 1 to 65535, got "abc"
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: ConfigIssue[];
  /** Absolute path of the file the problem is in (the config file, or a .env file). */
  readonly file: string;

  constructor(file: string, issues: ConfigIssue[], headline = `Invalid configuration in ${file}:`) {
    super([headline, ...issues.map((i) => `  - ${i.path ? `${i.path}: ` : ''}${i.message}`)].join('\n'));
    this.issues = issues;
    this.file = file;
  }
}
