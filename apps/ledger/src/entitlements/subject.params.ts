import { z } from 'zod';
import { isoInstant } from '@app/domain';
import { ValidationError, fieldErrors } from '../http/problem.errors.js';

export const subjectParam = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** Validates a subject path parameter (400 problem when it is not an id). */
export function parseSubject(subject: string): string {
  const r = subjectParam.safeParse(subject);
  if (!r.success) throw new ValidationError('invalid subject', fieldErrors(r.error.issues, ['subject']));
  return r.data;
}

export const readQuerySchema = z
  .object({
    at: isoInstant.optional(),
    position: z
      .string()
      .regex(/^\d{1,15}$/, 'must be a log position (a whole number)')
      .transform(Number)
      .optional(),
  })
  .strict();
