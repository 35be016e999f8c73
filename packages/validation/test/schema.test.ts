import { describe, expect, expectTypeOf, it } from 'vitest';
import * as v from '../src/index';

describe('refine and superRefine', () => {
  it('run every refinement, each a custom issue with the value as input', () => {
    const text = v
      .string()
      .refine((s) => s.trim().length > 0, 'empty')
      .refine((s) => !s.includes('\n'), 'not one line');
    expect(text.safeParse(' \n')).toEqual({
      success: false,
      issues: [
        { code: 'custom', path: [], input: ' \n', message: 'empty' },
        { code: 'custom', path: [], input: ' \n', message: 'not one line' },
      ],
    });
  });

  it('add issues below the value with superRefine', () => {
    const schema = v.strictObject({
      env: v.record(v.string(), v.string()).superRefine((env, ctx) => {
        if ('PORT' in env) ctx.addIssue({ path: ['PORT'], message: 'set by Handover' });
      }),
    });
    const result = schema.safeParse({ env: { PORT: '1' } });
    expect(result.success === false && result.issues.map((i) => [i.path, i.message])).toEqual([[['env', 'PORT'], 'set by Handover']]);
  });

  it('leave the schema they are called on as it was', () => {
    const base = v.string();
    const refined = base.refine(() => false, 'never');
    expect(base.safeParse('x').success).toBe(true);
    expect(refined.safeParse('x').success).toBe(false);
    expect(refined).toBeInstanceOf(v.StringSchema);
  });
});

describe('optional, nullable, nullish and default', () => {
  it('let undefined, null or both through, or put a default in place of undefined', () => {
    expect(v.string().optional().safeParse(undefined)).toEqual({ success: true, data: undefined });
    expect(v.string().optional().safeParse(null).success).toBe(false);
    expect(v.string().nullable().safeParse(null)).toEqual({ success: true, data: null });
    expect(v.string().nullable().safeParse(undefined).success).toBe(false);
    expect(v.string().nullish().safeParse(null).success).toBe(true);
    expect(v.string().nullish().safeParse(undefined).success).toBe(true);
    expect(v.number().default(200).safeParse(undefined)).toEqual({ success: true, data: 200 });
    expect(v.number().default(200).safeParse(5)).toEqual({ success: true, data: 5 });
    // The default is not a way around the check: a value given is still checked.
    expect(v.number().max(10).default(2).safeParse(11).success).toBe(false);
  });
});

describe('Standard Schema', () => {
  const input = v.strictObject({ worker: v.string().regex(/^[a-z]+@\d+$/, 'worker id must look like web@3') });

  it('validates through ~standard, as tRPC calls it, and has no parse method for tRPC to prefer', async () => {
    const standard = input['~standard'];
    expect(standard.version).toBe(1);
    expect(standard.vendor).toBe('handover');
    expect(await standard.validate({ worker: 'web@3' })).toEqual({ value: { worker: 'web@3' } });
    expect(await standard.validate({ worker: 'web' })).toEqual({
      issues: [{ code: 'invalid_format', path: ['worker'], input: 'web', message: 'worker id must look like web@3' }],
    });
    expect('parse' in input).toBe(false);
  });

  it('validates with the checks of the schema it is read from', async () => {
    const bounded = v.number().max(1);
    expect(await bounded['~standard'].validate(2)).toHaveProperty('issues');
    expect(await v.number()['~standard'].validate(2)).toEqual({ value: 2 });
  });
});

describe('Infer', () => {
  it('gives optional keys for optional fields, required ones for defaults in the output', () => {
    const schema = v.strictObject({
      name: v.string(),
      lines: v.number().default(200),
      cookie: v.union([v.literal(false), v.string()]).optional(),
      mode: v.enum(['first', 'last']).nullish(),
      env: v.record(v.string(), v.string()).optional(),
      pools: v.array(v.strictObject({ port: v.number() })),
    });
    expectTypeOf<v.Infer<typeof schema>>().toEqualTypeOf<{
      name: string;
      lines: number;
      cookie?: string | false | undefined;
      mode?: 'first' | 'last' | null | undefined;
      env?: Record<string, string> | undefined;
      pools: { port: number }[];
    }>();
    expectTypeOf<v.InferInput<typeof schema>>().toEqualTypeOf<{
      name: string;
      lines?: number | undefined;
      cookie?: string | false | undefined;
      mode?: 'first' | 'last' | null | undefined;
      env?: Record<string, string> | undefined;
      pools: { port: number }[];
    }>();
  });
});
