// Runtime validation from the same TypeBox schemas that give the types and the OpenAPI document.
import { Ajv, type ErrorObject } from 'ajv';
import type { TSchema } from 'typebox';
import { AppError, type FieldError } from './errors.ts';

const strictAjv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const coercingAjv = new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: true });

export type Validator<T> = (value: unknown) => T;

/** Compiles once; the returned function throws VALIDATION_FAILED listing every failing field. */
export function compileValidator<T>(
  schema: TSchema,
  options: { coerce?: boolean; what?: string } = {},
): Validator<T> {
  const check = (options.coerce === true ? coercingAjv : strictAjv).compile(schema);
  const what = options.what ?? 'body';
  return (value: unknown): T => {
    if (check(value)) return value as T;
    const errors = (check.errors ?? []).map(toFieldError);
    throw new AppError('VALIDATION_FAILED', `The ${what} has ${errors.length} invalid field(s)`, {
      errors: dedupe(errors),
    });
  };
}

function toFieldError(error: ErrorObject): FieldError {
  if (error.keyword === 'additionalProperties') {
    const property = (error.params as { additionalProperty: string }).additionalProperty;
    return { field: `${error.instancePath}/${property}`, message: 'is not a known property' };
  }
  if (error.keyword === 'required') {
    const property = (error.params as { missingProperty: string }).missingProperty;
    return { field: `${error.instancePath}/${property}`, message: 'is required' };
  }
  if (error.keyword === 'anyOf' || error.keyword === 'const') {
    return { field: error.instancePath || '/', message: 'is not one of the allowed values' };
  }
  return { field: error.instancePath || '/', message: error.message ?? 'is invalid' };
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.field}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
