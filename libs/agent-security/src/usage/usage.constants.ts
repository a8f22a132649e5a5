/** The UsageStore behind token budgets and stream slots. */
export const AGENT_SECURITY_USAGE_STORE = Symbol('AGENT_SECURITY_USAGE_STORE');

export const TOKEN_BUDGET_METADATA = 'agent-security:token-budget';
export const AGENT_STREAM_METADATA = 'agent-security:agent-stream';

export const TOKEN_BUDGET_EXCEEDED_MESSAGE = 'Token budget exceeded';
export const COST_BUDGET_EXCEEDED_MESSAGE = 'Cost budget exceeded';
export const TOO_MANY_STREAMS_MESSAGE = 'Too many concurrent streams';

/** A token window is kept as this many buckets: memory per caller is bounded whatever the traffic. */
export const TOKEN_BUCKETS = 60;
