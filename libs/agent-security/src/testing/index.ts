// `@agent-security/core/testing`: what a user's tests need to drive an app that imports AgentSecurityModule.
export { createTestToken, type TestTokenOptions } from './create-test-token.js';
export { testOptions, TEST_JWT_SECRET, type TestOptionsOverrides } from './test-options.js';
