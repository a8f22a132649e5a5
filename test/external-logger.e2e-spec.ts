import { externalLoggerSuite } from './support/external-logger.suite';

externalLoggerSuite('express');
