// The HTTP envelope of a GraphQL request, checked before grafserv reads it. Everything
// about the operation itself (its size, depth, cost, the caller's budget) is checked
// inside PostGraphile, for every transport alike (src/limits/).
//
//   413 PAYLOAD_TOO_LARGE       body over maxBodyBytes
//   415 UNSUPPORTED_MEDIA_TYPE  a POST that is not application/json
//   400 BAD_REQUEST             not JSON, no query, a batch (arrays are not accepted)
import express, { type NextFunction, type Request, type Response } from 'express';
import { sendError } from '../errors/catalogue.ts';

/** Why a parsed body is not one GraphQL request, or undefined when it is. */
function problemWith(body: unknown): string | undefined {
  if (Array.isArray(body)) return 'Batched requests are not supported; send one operation per request.';
  const { query, variables, operationName, documentId, extensions } = (body ?? {}) as Record<string, unknown>;
  // A trusted document is named by its id instead (trusted-documents.ts checks it).
  const documentNamed =
    typeof documentId === 'string' ||
    typeof (extensions as { persistedQuery?: { sha256Hash?: unknown } })?.persistedQuery?.sha256Hash ===
      'string';
  if (!documentNamed && (typeof query !== 'string' || query.trim() === ''))
    return 'The body needs a `query` string or a trusted document id.';
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables)))
    return '`variables` must be an object.';
  if (operationName != null && typeof operationName !== 'string') return '`operationName` must be a string.';
  return undefined;
}

export function requestBody(maxBodyBytes: number) {
  const parseJson = express.json({ limit: maxBodyBytes, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'POST') return next();
    if (!req.is('application/json')) return sendError(res, 'UNSUPPORTED_MEDIA_TYPE');
    parseJson(req, res, (error?: unknown) => {
      if (error) {
        return (error as { type?: string }).type === 'entity.too.large'
          ? sendError(
              res,
              'PAYLOAD_TOO_LARGE',
              `The request body is larger than ${maxBodyBytes} bytes (limit MAX_BODY_BYTES).`,
            )
          : sendError(res, 'BAD_REQUEST', 'The request body is not valid JSON.');
      }
      const problem = problemWith(req.body);
      if (problem) return sendError(res, 'BAD_REQUEST', problem);
      next();
    });
  };
}
