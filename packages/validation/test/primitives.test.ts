import { describe, expect, it } from 'vitest';
import * as v from '../src/index';

/** The issues of a failed parse (fails the test if it passed). */
function issuesOf(schema: v.AnySchema, input: unknown): v.Issue[] {
  const result = schema.safeParse(input);
  if (result.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return result.issues;
}

const messages = (schema: v.AnySchema, input: unknown) => issuesOf(schema, input).map((i) => i.message);

describe('string', () => {
  it('takes a string and says what it got otherwise, in the default words or the given ones', () => {
    expect(v.string().safeParse('x')).toEqual({ success: true, data: 'x' });
    expect(issuesOf(v.string(), 42)).toEqual([{ code: 'invalid_type', path: [], input: 42, message: 'Invalid input: expected string, received number' }]);
    expect(messages(v.string(), undefined)).toEqual(['Invalid input: expected string, received undefined']);
    expect(messages(v.string(), [])).toEqual(['Invalid input: expected string, received array']);
    expect(messages(v.string(), null)).toEqual(['Invalid input: expected string, received null']);
    expect(messages(v.string('expected a name'), {})).toEqual(['expected a name']);
  });

  it('checks length, pattern and prefix, reporting every failed check', () => {
    const id = v.string().min(2).max(4).regex(/^[a-z]+$/).startsWith('a');
    expect(id.safeParse('abc').success).toBe(true);
    expect(messages(id, 'b')).toEqual([
      'Too small: expected string to have >=2 characters',
      'Invalid string: must start with "a"',
    ]);
    expect(messages(id, 'ABCDE')).toEqual([
      'Too big: expected string to have <=4 characters',
      'Invalid string: must match pattern /^[a-z]+$/',
      'Invalid string: must start with "a"',
    ]);
    expect(issuesOf(v.string().max(1, 'too long'), 'ab')).toEqual([{ code: 'too_big', path: [], input: 'ab', message: 'too long' }]);
    expect(issuesOf(v.string().regex(/^a$/, 'not a'), 'b')[0]!.code).toBe('invalid_format');
  });

  it('runs no check on a value of the wrong type', () => {
    // An array has a length: the bound must not be measured on it as if it were a string.
    expect(messages(v.string().min(1, 'empty').refine(() => false, 'refined'), [])).toEqual(['Invalid input: expected string, received array']);
  });

  it('tests a global pattern from its start every time', () => {
    const schema = v.string().regex(/^a+$/g, 'only a');
    for (let i = 0; i < 3; i++) expect(schema.safeParse('aaa').success).toBe(true);
  });
});

describe('number', () => {
  it('takes finite numbers only', () => {
    expect(v.number().safeParse(1.5)).toEqual({ success: true, data: 1.5 });
    expect(messages(v.number(), '1')).toEqual(['Invalid input: expected number, received string']);
    expect(messages(v.number(), Number.NaN)).toEqual(['Invalid input: expected number, received NaN']);
    expect(messages(v.number(), Number.POSITIVE_INFINITY)).toEqual(['Invalid input: expected number, received Infinity']);
  });

  it('checks bounds, inclusive for min and max, exclusive for gt', () => {
    const n = v.number().min(1).max(10);
    expect(n.safeParse(1).success).toBe(true);
    expect(n.safeParse(10).success).toBe(true);
    expect(issuesOf(n, 0)).toEqual([{ code: 'too_small', path: [], input: 0, message: 'Too small: expected number to be >=1' }]);
    expect(issuesOf(n, 11)).toEqual([{ code: 'too_big', path: [], input: 11, message: 'Too big: expected number to be <=10' }]);
    expect(v.number().gt(0).safeParse(0.001).success).toBe(true);
    expect(messages(v.number().gt(0), 0)).toEqual(['Too small: expected number to be >0']);
  });

  it('int: a fraction is the wrong type and skips the bounds; an unsafe integer is reported with them', () => {
    const n = v.number().int().min(1).max(1000);
    expect(n.safeParse(7).success).toBe(true);
    expect(issuesOf(n, 0.5)).toEqual([{ code: 'invalid_type', path: [], input: 0.5, message: 'Invalid input: expected int, received number' }]);
    expect(messages(n, 2 ** 53)).toEqual(['Too big: expected int to be <=9007199254740991', 'Too big: expected number to be <=1000']);
    expect(messages(v.number().int(), -(2 ** 53))).toEqual(['Too small: expected int to be >=-9007199254740991']);
    expect(messages(v.number('a port').int('a port').max(65535, 'a port'), 80.5)).toEqual(['a port']);
  });
});

describe('boolean, literal and enum', () => {
  it('take exactly their values', () => {
    expect(v.boolean().safeParse(false)).toEqual({ success: true, data: false });
    expect(messages(v.boolean(), 'true')).toEqual(['Invalid input: expected boolean, received string']);
    expect(v.literal(false).safeParse(false).success).toBe(true);
    expect(issuesOf(v.literal(false), 0)).toEqual([{ code: 'invalid_value', path: [], input: 0, message: 'Invalid input: expected false' }]);
    expect(v.enum(['first', 'last']).safeParse('last')).toEqual({ success: true, data: 'last' });
    expect(messages(v.enum(['first', 'last']), 'middle')).toEqual(['Invalid option: expected one of "first"|"last"']);
    expect(messages(v.enum(['first', 'last'], 'expected "first" or "last"'), 1)).toEqual(['expected "first" or "last"']);
  });
});
