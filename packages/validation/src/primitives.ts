import { boundMessage, issue, quote, typeMessage, type Issue, type Path } from './issues';
import { Schema, type Outcome } from './schema';

/*
 * Each schema takes an optional `message` for a value of the wrong type, and each check one for
 * its own failure; without one, the default message of issues.ts is used.
 */

function typed(ok: boolean, expected: string, input: unknown, path: Path, issues: Issue[], message: string | undefined): Outcome {
  if (!ok) issues.push(issue('invalid_type', path, input, message ?? typeMessage(expected, input)));
  return { value: input, fatal: !ok };
}

export class StringSchema extends Schema<string> {
  constructor(private readonly message?: string) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    return typed(typeof input === 'string', 'string', input, path, issues, this.message);
  }

  /** At least `length` characters (UTF-16 code units, as `String.length`). */
  min(length: number, message?: string): this {
    return this.withCheck((s, path, issues) => {
      if (s.length < length) issues.push(issue('too_small', path, s, message ?? boundMessage('min', 'string', length, true)));
    });
  }

  max(length: number, message?: string): this {
    return this.withCheck((s, path, issues) => {
      if (s.length > length) issues.push(issue('too_big', path, s, message ?? boundMessage('max', 'string', length, true)));
    });
  }

  regex(pattern: RegExp, message?: string): this {
    return this.withCheck((s, path, issues) => {
      pattern.lastIndex = 0; // a g or y flag would make test() start where the last one stopped
      if (!pattern.test(s)) issues.push(issue('invalid_format', path, s, message ?? `Invalid string: must match pattern ${pattern}`));
    });
  }

  startsWith(prefix: string, message?: string): this {
    return this.withCheck((s, path, issues) => {
      if (!s.startsWith(prefix)) issues.push(issue('invalid_format', path, s, message ?? `Invalid string: must start with ${quote(prefix)}`));
    });
  }
}

/** A finite number (NaN and ±Infinity are the wrong type). */
export class NumberSchema extends Schema<number> {
  constructor(private readonly message?: string) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    return typed(typeof input === 'number' && Number.isFinite(input), 'number', input, path, issues, this.message);
  }

  /**
   * A whole number, and a safe one: past 2^53 integers are no longer exact (2 ** 53 + 1 is
   * 2 ** 53), so an id or a count there would silently be another. A fraction is fatal (the
   * bounds after it are not checked); an unsafe integer is not, so a bound's own, more telling
   * message (`<=1000`) is reported as well.
   */
  int(message?: string): this {
    return this.withCheck((n, path, issues) => {
      if (!Number.isInteger(n)) {
        issues.push(issue('invalid_type', path, n, message ?? typeMessage('int', n)));
        return true;
      }
      if (n > Number.MAX_SAFE_INTEGER) issues.push(issue('too_big', path, n, message ?? boundMessage('max', 'int', Number.MAX_SAFE_INTEGER, true)));
      if (n < Number.MIN_SAFE_INTEGER) issues.push(issue('too_small', path, n, message ?? boundMessage('min', 'int', Number.MIN_SAFE_INTEGER, true)));
      return false;
    });
  }

  /** At least `bound`. */
  min(bound: number, message?: string): this {
    return this.withCheck((n, path, issues) => {
      if (!(n >= bound)) issues.push(issue('too_small', path, n, message ?? boundMessage('min', 'number', bound, true)));
    });
  }

  /** Greater than `bound`. */
  gt(bound: number, message?: string): this {
    return this.withCheck((n, path, issues) => {
      if (!(n > bound)) issues.push(issue('too_small', path, n, message ?? boundMessage('min', 'number', bound, false)));
    });
  }

  /** At most `bound`. */
  max(bound: number, message?: string): this {
    return this.withCheck((n, path, issues) => {
      if (!(n <= bound)) issues.push(issue('too_big', path, n, message ?? boundMessage('max', 'number', bound, true)));
    });
  }
}

export class BooleanSchema extends Schema<boolean> {
  constructor(private readonly message?: string) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    return typed(typeof input === 'boolean', 'boolean', input, path, issues, this.message);
  }
}

export type Primitive = string | number | boolean | null;

/** Exactly one value (compared with ===). */
export class LiteralSchema<T extends Primitive> extends Schema<T> {
  constructor(
    readonly value: T,
    private readonly message?: string,
  ) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    const ok = input === this.value;
    if (!ok) issues.push(issue('invalid_value', path, input, this.message ?? `Invalid input: expected ${quote(this.value)}`));
    return { value: input, fatal: !ok };
  }
}

/** One of a few strings. */
export class EnumSchema<T extends string> extends Schema<T> {
  constructor(
    readonly values: readonly T[],
    private readonly message?: string,
  ) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    const ok = (this.values as readonly unknown[]).includes(input);
    if (!ok) issues.push(issue('invalid_value', path, input, this.message ?? `Invalid option: expected one of ${this.values.map(quote).join('|')}`));
    return { value: input, fatal: !ok };
  }
}
