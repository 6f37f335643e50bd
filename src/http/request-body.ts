// The HTTP envelope of a GraphQL request, checked before grafserv reads it. Everything
// about the operation itself (its size, depth, cost, the caller's budget) is checked
// inside PostGraphile, for every transport alike (src/limits/).
//
//   413 PAYLOAD_TOO_LARGE       body over maxBodyBytes
//   415 UNSUPPORTED_MEDIA_TYPE  a POST that is not application/json
//   400 BAD_REQUEST             not JSON, no query, a batch (arrays are not accepted)
import express, { type NextFunction, type Request, type Response } from 'express';

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/** Why a parsed body is not one GraphQL request, or undefined when it is. */
function problemWith(body: unknown): string | undefined {
  if (Array.isArray(body)) return 'Batched requests are not supported; send one operation per request.';
  const { query, variables, operationName } = (body ?? {}) as { query?: unknown; variables?: unknown; operationName?: unknown };
  if (typeof query !== 'string' || query.trim() === '') return 'The body needs a `query` string.';
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return '`variables` must be an object.';
  if (operationName != null && typeof operationName !== 'string') return '`operationName` must be a string.';
  return undefined;
}

export function requestBody(maxBodyBytes: number) {
  const parseJson = express.json({ limit: maxBodyBytes, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST') return next();
    if (!req.is('application/json')) return refuse(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send GraphQL requests as application/json.');
    parseJson(req, res, (error?: unknown) => {
      if (error) {
        return (error as { type?: string }).type === 'entity.too.large'
          ? refuse(res, 413, 'PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBodyBytes} bytes (limit MAX_BODY_BYTES).`)
          : refuse(res, 400, 'BAD_REQUEST', 'The request body is not valid JSON.');
      }
      const problem = problemWith(req.body);
      if (problem) return refuse(res, 400, 'BAD_REQUEST', problem);
      next();
    });
  };
}
