/**
 * The machine-readable `code` of every error body, for clients to match instead of the English `message`. The named
 * ones are the library's own; any other HTTP error carries its status text in snake_case (`not_found`, `forbidden`,
 * `method_not_allowed`, ...), and an app's HttpException may carry a code of its own.
 */
export type ErrorCode =
  | 'missing_token'
  | 'invalid_token'
  | 'token_expired'
  | 'insufficient_scope'
  | 'rate_limited'
  | 'token_budget_exceeded'
  | 'cost_budget_exceeded'
  | 'too_many_streams'
  | 'store_unavailable'
  | 'client_closed_request'
  | 'invalid_request_body'
  | 'payload_too_large'
  | 'internal_error'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'too_many_requests'
  | 'service_unavailable'
  // Any other status text in snake_case, or an app's own code; keeps the names above suggested by editors.
  | (string & {});
