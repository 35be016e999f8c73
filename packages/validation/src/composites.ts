import { boundMessage, issue, typeMessage, unrecognizedKeys, type Issue, type Path } from './issues';
import { Schema, type AnySchema, type Infer, type InferInput, type Outcome } from './schema';

export type Shape = Readonly<Record<string, AnySchema>>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The keys whose schema takes (Side = 'input') or gives (Side = 'output') undefined: optional keys. */
type OptionalKeys<S extends Shape, Side extends 'input' | 'output'> = {
  [K in keyof S]: undefined extends NonNullable<S[K]['~standard']['types']>[Side] ? K : never;
}[keyof S];
type ObjectType<S extends Shape, Side extends 'input' | 'output'> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S, Side>>]: NonNullable<S[K]['~standard']['types']>[Side] } & {
    [K in OptionalKeys<S, Side>]?: NonNullable<S[K]['~standard']['types']>[Side];
  }
>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An object with the fields of `shape` and no others: an unknown key is an issue
 * (`unrecognized_keys`, listing them), so a typo never silently does nothing.
 */
export class ObjectSchema<S extends Shape> extends Schema<ObjectType<S, 'output'>, ObjectType<S, 'input'>> {
  constructor(
    readonly shape: S,
    private readonly message?: string,
  ) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    if (!isObject(input)) {
      issues.push(issue('invalid_type', path, input, this.message ?? typeMessage('object', input)));
      return { value: input, fatal: true };
    }
    const value: Record<string, unknown> = {};
    let fatal = false;
    for (const [key, schema] of Object.entries(this.shape)) {
      const given = Object.hasOwn(input, key);
      const field = schema.run(given ? input[key] : undefined, [...path, key], issues);
      fatal ||= field.fatal;
      // An optional field left out stays out; a default is filled in.
      if (given || field.value !== undefined) value[key] = field.value;
    }
    const unknown = Object.keys(input).filter((key) => !Object.hasOwn(this.shape, key));
    // Not fatal: the fields that are there have been checked all the same.
    if (unknown.length > 0) issues.push(unrecognizedKeys(path, input, unknown));
    return { value, fatal };
  }
}

/** An object used as a map: any number of keys, each checked by `key`, each value by `value`. */
export class RecordSchema<V extends AnySchema> extends Schema<Record<string, Infer<V>>, Record<string, InferInput<V>>> {
  constructor(
    readonly key: Schema<string>,
    readonly value: V,
    private readonly message?: string,
  ) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    const proto: unknown = isObject(input) ? Object.getPrototypeOf(input) : undefined;
    if (!isObject(input) || (proto !== Object.prototype && proto !== null)) {
      issues.push(issue('invalid_type', path, input, this.message ?? typeMessage('record', input)));
      return { value: input, fatal: true };
    }
    const value: Record<string, unknown> = {};
    let fatal = false;
    for (const key of Object.keys(input)) {
      // JSON.parse makes "__proto__" an own key; copied by assignment it would set the
      // result's prototype instead. It is dropped.
      if (key === '__proto__') continue;
      const keyIssues: Issue[] = [];
      this.key.run(key, [...path, key], keyIssues);
      if (keyIssues.length > 0) {
        issues.push(issue('invalid_key', [...path, key], key, keyIssues.map((i) => i.message).join('; ')));
        fatal = true;
        continue;
      }
      const field = this.value.run(input[key], [...path, key], issues);
      fatal ||= field.fatal;
      value[key] = field.value;
    }
    return { value, fatal };
  }
}

export class ArraySchema<E extends AnySchema> extends Schema<Infer<E>[], InferInput<E>[]> {
  constructor(
    readonly element: E,
    private readonly message?: string,
  ) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    if (!Array.isArray(input)) {
      issues.push(issue('invalid_type', path, input, this.message ?? typeMessage('array', input)));
      return { value: input, fatal: true };
    }
    let fatal = false;
    const value = input.map((item, index) => {
      const element = this.element.run(item, [...path, index], issues);
      fatal ||= element.fatal;
      return element.value;
    });
    return { value, fatal };
  }

  /** At least `length` elements. */
  min(length: number, message?: string): this {
    return this.withCheck((items, path, issues) => {
      if (items.length < length) issues.push(issue('too_small', path, items, message ?? boundMessage('min', 'array', length, true)));
    });
  }
}

/**
 * The first of `options` that takes the value. When none does, and exactly one failed on
 * something other than its type (e.g. a string that does not match), its issues are the ones
 * reported, being the most precise; otherwise one `invalid_union` issue.
 */
export class UnionSchema<Options extends readonly AnySchema[]> extends Schema<Infer<Options[number]>, InferInput<Options[number]>> {
  constructor(
    readonly options: Options,
    private readonly message?: string,
  ) {
    super();
  }

  protected parseValue(input: unknown, path: Path, issues: Issue[]): Outcome {
    const tries = this.options.map((option) => {
      const optionIssues: Issue[] = [];
      return { ...option.run(input, path, optionIssues), issues: optionIssues };
    });
    const taken = tries.find((t) => t.issues.length === 0);
    if (taken) return { value: taken.value, fatal: false };
    const near = tries.filter((t) => !t.fatal);
    if (near.length === 1) {
      issues.push(...near[0]!.issues);
      return { value: input, fatal: false };
    }
    issues.push(issue('invalid_union', path, input, this.message ?? 'Invalid input'));
    return { value: input, fatal: true };
  }
}
