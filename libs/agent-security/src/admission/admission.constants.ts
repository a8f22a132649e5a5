/** The AdmissionStore behind budgeted and streamed routes. */
export const AGENT_SECURITY_ADMISSION_STORE = Symbol('AGENT_SECURITY_ADMISSION_STORE');
