import { describe, expect, it } from 'vitest';
import * as v from '../src/index';

function issuesOf(schema: v.AnySchema, input: unknown): v.Issue[] {
  const result = schema.safeParse(input);
  if (result.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return result.issues;
}

describe('strictObject', () => {
  const pool = v.strictObject({
    name: v.string(),
    port: v.number().int().optional(),
    lines: v.number().default(200),
    probe: v.strictObject({ path: v.string() }).nullable().optional(),
  });

  it('fills in defaults, leaves optional fields out and keeps null', () => {
    const minimal = pool.safeParse({ name: 'web' });
    expect(minimal).toEqual({ success: true, data: { name: 'web', lines: 200 } });
    // toEqual ignores a key holding undefined; the key must be absent.
    expect(minimal.success && Object.keys(minimal.data)).toEqual(['name', 'lines']);
    expect(pool.safeParse({ name: 'web', port: 1, lines: 5, probe: null })).toEqual({ success: true, data: { name: 'web', port: 1, lines: 5, probe: null } });
  });

  it('reports a missing field at its path with undefined as the input', () => {
    expect(issuesOf(pool, {})).toEqual([{ code: 'invalid_type', path: ['name'], input: undefined, message: 'Invalid input: expected string, received undefined' }]);
  });

  it('reports unknown keys in one issue at the object, after the fields, keeping the fields checked', () => {
    const input = { name: 7, zz: 1, probe: { path: '/', Path: '/x' }, nmae: 'web' };
    const issues = issuesOf(pool, input);
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['invalid_type', ['name']],
      ['unrecognized_keys', ['probe']],
      ['unrecognized_keys', []],
    ]);
    expect(issues[1]).toMatchObject({ keys: ['Path'], message: 'Unrecognized key: "Path"' });
    expect(issues[2]).toMatchObject({ keys: ['zz', 'nmae'], message: 'Unrecognized keys: "zz", "nmae"', input });
  });

  it('treats keys the shape only inherits, and __proto__, as unknown', () => {
    const issues = issuesOf(v.strictObject({ a: v.string().optional() }), JSON.parse('{"__proto__": 1, "constructor": 2}'));
    expect(issues).toMatchObject([{ code: 'unrecognized_keys', keys: ['__proto__', 'constructor'] }]);
  });

  it('says what it got for a value that is not an object, in its own words if given', () => {
    expect(issuesOf(pool, []).map((i) => i.message)).toEqual(['Invalid input: expected object, received array']);
    expect(issuesOf(v.strictObject({}, 'expected an object like {}'), 'x').map((i) => i.message)).toEqual(['expected an object like {}']);
  });

  it('publishes its shape, for walking the schema', () => {
    expect(Object.keys(pool.shape)).toEqual(['name', 'port', 'lines', 'probe']);
    // .nullable().optional(): an optional around a nullable around the object.
    const probe = pool.shape.probe;
    expect(probe).toBeInstanceOf(v.OptionalSchema);
    expect(probe.inner).toBeInstanceOf(v.NullableSchema);
    expect((probe.inner as v.NullableSchema<unknown>).inner).toBeInstanceOf(v.ObjectSchema);
  });
});

describe('record', () => {
  const headers = v.record(v.string().regex(/^[A-Za-z-]+$/, 'not a header name'), v.string().refine((s) => !s.includes('\n'), 'one line'), 'expected headers');

  it('checks each key and each value, at the key', () => {
    expect(headers.safeParse({ Accept: 'x' })).toEqual({ success: true, data: { Accept: 'x' } });
    expect(issuesOf(headers, { 'Bad Name': 'x', Host: 'a\nb', Via: 1 })).toEqual([
      { code: 'invalid_key', path: ['Bad Name'], input: 'Bad Name', message: 'not a header name' },
      { code: 'custom', path: ['Host'], input: 'a\nb', message: 'one line' },
      { code: 'invalid_type', path: ['Via'], input: 1, message: 'Invalid input: expected string, received number' },
    ]);
  });

  it('takes plain objects only, and drops a __proto__ key instead of setting the prototype', () => {
    expect(issuesOf(headers, []).map((i) => i.message)).toEqual(['expected headers']);
    expect(issuesOf(headers, new Map()).map((i) => i.message)).toEqual(['expected headers']);
    expect(issuesOf(v.record(v.string(), v.string()), new Date(0)).map((i) => i.message)).toEqual(['Invalid input: expected record, received Date']);
    const parsed = headers.safeParse(JSON.parse('{"__proto__": {"polluted": "yes"}, "Accept": "x"}'));
    expect(parsed.success && Object.getPrototypeOf(parsed.data)).toBe(Object.prototype);
    expect(parsed).toEqual({ success: true, data: { Accept: 'x' } });
  });

  it('runs a superRefine only when the entries are of the right type', () => {
    const env = v.record(v.string(), v.string()).superRefine((value, ctx) => {
      for (const key of Object.keys(value)) if (/^\d/.test(key)) ctx.addIssue({ path: [key], message: 'bad name' });
    });
    expect(issuesOf(env, { '1A': 'x' })).toEqual([{ code: 'custom', path: ['1A'], input: { '1A': 'x' }, message: 'bad name' }]);
    expect(issuesOf(env, { '1A': 'x', B: 2 }).map((i) => i.path)).toEqual([['B']]);
  });
});

describe('array', () => {
  it('checks each element at its index, and the length', () => {
    const list = v.array(v.number(), 'expected a list').min(1, 'expected at least one');
    expect(list.safeParse([1, 2])).toEqual({ success: true, data: [1, 2] });
    expect(issuesOf(list, [1, 'x'])).toMatchObject([{ path: [1], code: 'invalid_type' }]);
    expect(issuesOf(list, [])).toEqual([{ code: 'too_small', path: [], input: [], message: 'expected at least one' }]);
    expect(issuesOf(v.array(v.number()).min(2), [1]).map((i) => i.message)).toEqual(['Too small: expected array to have >=2 items']);
    // The length of a string is not a list's: only the type is reported.
    expect(issuesOf(list, '').map((i) => i.message)).toEqual(['expected a list']);
  });

  it('gives nested paths from the top', () => {
    const file = v.strictObject({ pools: v.array(v.strictObject({ port: v.number() })) });
    expect(issuesOf(file, { pools: [{ port: 1 }, { port: 'x' }] })[0]!.path).toEqual(['pools', 1, 'port']);
  });
});

describe('union', () => {
  const cookie = v.union([v.literal(false), v.string().regex(/^[a-z_]+$/, 'not a cookie name')], 'expected a cookie name or false');

  it('takes the value when any option does', () => {
    expect(cookie.safeParse(false)).toEqual({ success: true, data: false });
    expect(cookie.safeParse('route')).toEqual({ success: true, data: 'route' });
  });

  it('reports the one option that failed on more than the type, else its own message', () => {
    expect(issuesOf(cookie, 'Bad Name')).toEqual([{ code: 'invalid_format', path: [], input: 'Bad Name', message: 'not a cookie name' }]);
    expect(issuesOf(cookie, true)).toEqual([{ code: 'invalid_union', path: [], input: true, message: 'expected a cookie name or false' }]);
    expect(issuesOf(v.union([v.string(), v.number()]), null).map((i) => i.message)).toEqual(['Invalid input']);
  });
});
