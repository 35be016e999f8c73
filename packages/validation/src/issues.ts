/**
 * What a schema reports: an issue per problem, with where it is (`path`), what was there
 * (`input`) and a message. The codes and the default messages (those used when a schema gives
 * none) are the ones zod 4 used in English: the control API's 400s have shown them to clients
 * (`invalid input: limit: Too big: expected number to be <=1000`), so they stay word for word.
 */
export type IssueCode =
  | 'invalid_type'
  | 'invalid_value'
  | 'invalid_format'
  | 'invalid_union'
  | 'invalid_key'
  | 'too_small'
  | 'too_big'
  | 'unrecognized_keys'
  | 'custom';

export type Path = readonly PropertyKey[];

interface IssueFields {
  /** Where: object keys and array indexes from the top of the value; [] for the value itself. */
  path: PropertyKey[];
  message: string;
  /** The offending value (for `unrecognized_keys`, the object holding the keys). */
  input: unknown;
}

export type Issue =
  | (IssueFields & { code: Exclude<IssueCode, 'unrecognized_keys'> })
  | (IssueFields & { code: 'unrecognized_keys'; keys: string[] });

export function issue(code: Exclude<IssueCode, 'unrecognized_keys'>, path: Path, input: unknown, message: string): Issue {
  return { code, path: [...path], message, input };
}

export function unrecognizedKeys(path: Path, input: object, keys: string[]): Issue {
  const message = `Unrecognized key${keys.length > 1 ? 's' : ''}: ${keys.map(quote).join(', ')}`;
  return { code: 'unrecognized_keys', keys, path: [...path], message, input };
}

/** `Invalid input: expected string, received number`. */
export function typeMessage(expected: string, input: unknown): string {
  return `Invalid input: expected ${expected}, received ${typeName(input)}`;
}

/** What is measured for a bound, and how the message says it. */
export type Measured = 'number' | 'int' | 'string' | 'array';
const UNITS: Partial<Record<Measured, string>> = { string: 'characters', array: 'items' };

/** `Too small: expected number to be >=1`, `Too big: expected string to have <=48 characters`. */
export function boundMessage(side: 'min' | 'max', what: Measured, bound: number, inclusive: boolean): string {
  const comparison = `${side === 'min' ? '>' : '<'}${inclusive ? '=' : ''}${bound}`;
  const unit = UNITS[what];
  const expected = unit === undefined ? `to be ${comparison}` : `to have ${comparison} ${unit}`;
  return `Too ${side === 'min' ? 'small' : 'big'}: expected ${what} ${expected}`;
}

/** `"first"`, `false`, `null`: a literal as the messages quote it. */
export function quote(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}

/** The kind of value that was given: what JSON can hold, NaN and Infinity told apart from numbers. */
function typeName(input: unknown): string {
  if (typeof input === 'number') return Number.isFinite(input) ? 'number' : String(input);
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'object') {
    const proto: unknown = Object.getPrototypeOf(input);
    if (proto !== Object.prototype && proto !== null) return (input.constructor as { name?: string } | undefined)?.name || 'object';
  }
  return typeof input;
}
