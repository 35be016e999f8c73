import { issue, type Issue, type Path } from './issues';
import type { StandardSchemaV1 } from './standard-schema';

/**
 * What running a schema on a value gave: the output value, and whether an issue was found that
 * makes further checks pointless (a wrong type, a missing field). A check that merely fails (too
 * long, no match) is not fatal: the checks after it run too, so every problem is listed at once.
 */
export interface Outcome {
  value: unknown;
  fatal: boolean;
}

/** A check of a value of the right type: pushes what is wrong; returns true when it is fatal. */
export type Check<T> = (value: T, path: Path, issues: Issue[]) => boolean | void;

export type ParseResult<T> = { success: true; data: T } | { success: false; issues: Issue[] };

/** Adds issues from a `superRefine`; `path` is relative to the value refined. */
export interface RefineContext {
  addIssue(issue: { message: string; path?: PropertyKey[] }): void;
}

export type AnySchema = Schema<any, any>;
/** The type a schema's successful result has. */
export type Infer<T extends AnySchema> = NonNullable<T['~standard']['types']>['output'];
/** The type of what a schema accepts (a field with a default may be left out). */
export type InferInput<T extends AnySchema> = NonNullable<T['~standard']['types']>['input'];

/**
 * A schema: `safeParse` checks a value and returns the value it stands for or every issue found.
 * Schemas are immutable (`refine` returns a new one), so one can be shared by several others.
 *
 * It is a Standard Schema (`~standard`), which is how tRPC takes it as a procedure's input. It
 * deliberately has no `parse` method: tRPC would call one in preference and expect it to throw.
 */
export abstract class Schema<Out, In = Out> implements StandardSchemaV1<In, Out> {
  protected checks: ReadonlyArray<Check<Out>> = [];

  /** Checks the value's type (and, for objects and arrays, its parts), before any check runs. */
  protected abstract parseValue(input: unknown, path: Path, issues: Issue[]): Outcome;

  /** Pushes every issue of `input` at `path` onto `issues`; for composing schemas. */
  run(input: unknown, path: Path, issues: Issue[]): Outcome {
    const outcome = this.parseValue(input, path, issues);
    if (outcome.fatal) return outcome;
    for (const check of this.checks) {
      if (check(outcome.value as Out, path, issues) === true) return { value: outcome.value, fatal: true };
    }
    return outcome;
  }

  safeParse(input: unknown): ParseResult<Out> {
    const issues: Issue[] = [];
    const { value } = this.run(input, [], issues);
    return issues.length === 0 ? { success: true, data: value as Out } : { success: false, issues };
  }

  get '~standard'(): StandardSchemaV1.Props<In, Out> {
    return {
      version: 1,
      vendor: 'handover',
      validate: (value) => {
        const result = this.safeParse(value);
        return result.success ? { value: result.data } : { issues: result.issues };
      },
    };
  }

  /** This schema with one more check, run after the ones it has. */
  protected withCheck(check: Check<Out>): this {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(this) as object) as this, this);
    copy.checks = [...this.checks, check];
    return copy;
  }

  /** A `custom` issue with `message` when `ok` says no. */
  refine(ok: (value: Out) => boolean, message: string): this {
    return this.withCheck((value, path, issues) => {
      if (!ok(value)) issues.push(issue('custom', path, value, message));
    });
  }

  /** Lets `fn` add `custom` issues of its own, at paths inside the value (e.g. a record's key). */
  superRefine(fn: (value: Out, context: RefineContext) => void): this {
    return this.withCheck((value, path, issues) => {
      fn(value, { addIssue: ({ message, path: inner = [] }) => issues.push(issue('custom', [...path, ...inner], value, message)) });
    });
  }

  /** Also accepts `undefined` (a field that may be left out). */
  optional(): OptionalSchema<Out, In> {
    return new OptionalSchema(this);
  }

  nullable(): NullableSchema<Out, In> {
    return new NullableSchema(this);
  }

  nullish(): OptionalSchema<Out | null, In | null> {
    return this.nullable().optional();
  }

  /** `value` in place of `undefined` (a field left out). */
  default(value: Exclude<Out, undefined>): DefaultSchema<Out, In> {
    return new DefaultSchema(this, value);
  }
}

/** A schema around another that lets some values through without asking it. */
export abstract class Wrapper<Out, In, InnerOut, InnerIn> extends Schema<Out, In> {
  constructor(readonly inner: Schema<InnerOut, InnerIn>) {
    super();
  }
}

export class OptionalSchema<T, In = T> extends Wrapper<T | undefined, In | undefined, T, In> {
  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    return input === undefined ? { value: undefined, fatal: false } : this.inner.run(input, path, issues);
  }
}

export class NullableSchema<T, In = T> extends Wrapper<T | null, In | null, T, In> {
  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    return input === null ? { value: null, fatal: false } : this.inner.run(input, path, issues);
  }
}

export class DefaultSchema<T, In = T> extends Wrapper<Exclude<T, undefined>, In | undefined, T, In> {
  constructor(
    inner: Schema<T, In>,
    readonly defaultValue: Exclude<T, undefined>,
  ) {
    super(inner);
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    return input === undefined ? { value: this.defaultValue, fatal: false } : this.inner.run(input, path, issues);
  }
}
