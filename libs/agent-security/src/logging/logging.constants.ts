/** The app's root pino logger (undefined with `logging: false`). */
export const AGENT_SECURITY_LOGGER = Symbol('AGENT_SECURITY_LOGGER');

/** Where the root logger writes (undefined with `logging: false` or a pino transport); see logDestination. */
export const AGENT_SECURITY_LOG_DESTINATION = Symbol('AGENT_SECURITY_LOG_DESTINATION');
