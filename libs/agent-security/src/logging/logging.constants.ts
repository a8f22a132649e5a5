/** The app's root pino logger (undefined with `logging: false`). */
export const AGENT_SECURITY_LOGGER = Symbol('AGENT_SECURITY_LOGGER');
