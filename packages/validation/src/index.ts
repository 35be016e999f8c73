/**
 * Hand-written schemas for what Handover validates: the configuration file and the control
 * API's inputs. It replaces zod, whose import alone cost each process about 12 MiB of RSS, and
 * has only what those schemas use. Use it as `import * as v from '@handover/validation'`:
 *
 *     const input = v.strictObject({ worker: v.string().regex(WORKER_ID, 'worker id must look like web@3') });
 *     type Input = v.Infer<typeof input>;
 *     const result = input.safeParse(value); // { success: true, data } or { success: false, issues }
 *
 * Every schema is a Standard Schema v1, so tRPC's `.input(schema)` takes it as it is.
 */
import { ArraySchema, ObjectSchema, RecordSchema, UnionSchema, type Shape } from './composites';
import { BooleanSchema, EnumSchema, LiteralSchema, NumberSchema, StringSchema, type Primitive } from './primitives';
import type { AnySchema, Schema } from './schema';

export type { Issue, IssueCode } from './issues';
export type { AnySchema, Infer, InferInput, ParseResult, RefineContext } from './schema';
export type { StandardSchemaV1 } from './standard-schema';
export { Schema, Wrapper, OptionalSchema, NullableSchema, DefaultSchema } from './schema';
export { ArraySchema, ObjectSchema, RecordSchema, UnionSchema, type Shape } from './composites';
export { BooleanSchema, EnumSchema, LiteralSchema, NumberSchema, StringSchema } from './primitives';

/*
 * `message`, where a function takes one, is the message for a value of the wrong type (for a
 * union: that no option takes); without it, a default such as
 * `Invalid input: expected string, received number`.
 */

export const string = (message?: string) => new StringSchema(message);
export const number = (message?: string) => new NumberSchema(message);
export const boolean = (message?: string) => new BooleanSchema(message);
export const literal = <const T extends Primitive>(value: T, message?: string) => new LiteralSchema(value, message);
const enumOf = <const T extends readonly [string, ...string[]]>(values: T, message?: string) => new EnumSchema<T[number]>(values, message);
export { enumOf as enum };
/** An object with exactly these fields: an unknown key is an issue. */
export const strictObject = <S extends Shape>(shape: S, message?: string) => new ObjectSchema(shape, message);
export const record = <V extends AnySchema>(key: Schema<string>, value: V, message?: string) => new RecordSchema(key, value, message);
export const array = <E extends AnySchema>(element: E, message?: string) => new ArraySchema(element, message);
export const union = <const Options extends readonly AnySchema[]>(options: Options, message?: string) => new UnionSchema(options, message);
