import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'agent-security:public';

/** Exempts a handler or a whole controller from authentication. A handler's own metadata wins over its class. */
export const Public = (isPublic = true) => SetMetadata(IS_PUBLIC_KEY, isPublic);
