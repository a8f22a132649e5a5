import { externalLoggerSuite } from './support/external-logger.suite';

// A file of its own: see externalLoggerSuite.
externalLoggerSuite('fastify');
