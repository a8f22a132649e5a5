import { pino, type DestinationStream, type Logger } from 'pino';
import type { AgentSecurityConfig } from '../agent-security.config.js';

const INFO = 30;

/**
 * pino options that leave a line laid out as pino's defaults lay it out, or whose effect pino has already
 * turned into the parts the fast line reuses (level and time prefix, bindings, message key, line end).
 * `redact` is the root's; the completion line has fixed fields and only the user's `logging.redact` applies to it.
 */
const LAYOUT_NEUTRAL = new Set([
  'level',
  'name',
  'base',
  'timestamp',
  'messageKey',
  'crlf',
  'redact',
  'transport',
  'enabled',
]);

/** The fields of one completion line, in the order they are written. */
export interface CompletionFields {
  requestId: string | undefined;
  method: string | undefined;
  path: string;
  route: string | undefined;
  status: number;
  durationMs: number | undefined;
  userId: string | undefined;
  tier: string | undefined;
  ip: string | undefined;
  aborted: true | undefined;
  /** Report mode: the code of the refusal the request was let through despite. */
  wouldRefuse?: string;
}

/** The parts of pino's own line that the fast line copies, read off the logger once. */
interface PinoLineParts {
  readonly levelPrefix: string;
  readonly time: () => string;
  readonly bindings: string;
  readonly message: string;
  readonly end: string;
  readonly stream: DestinationStream;
}

/**
 * Writes the completion lines. With the module's logging options and pino's defaults the line is built here,
 * as one string in pino's layout (level, time, bindings, fields, message), and handed to pino's own stream:
 * pino's serializer walks an object per line, checking serializers, stringifiers and redaction for each field,
 * which costs several times as much (`node bench/log-line.mjs`). Where the options can change a line
 * (formatters, serializers, mixin, hooks, custom levels, the user's redact paths, a stream that wants
 * pino's metadata) and for error lines, pino writes it.
 */
export class CompletionLog {
  private readonly parts: PinoLineParts | undefined;

  /** `logger`: the completion logger (the root's child without the root's redaction). */
  constructor(
    readonly logger: Logger,
    config: AgentSecurityConfig,
  ) {
    this.parts = fastLineParts(logger, config);
  }

  write(fields: CompletionFields, err: unknown): void {
    const parts = this.parts;
    const failed = err !== undefined || isFailure(fields.status);
    if (parts !== undefined && !failed) {
      // levelVal, not a cached flag: the level can change at runtime.
      if (this.logger.levelVal <= INFO) parts.stream.write(fastLine(parts, fields));
      return;
    }
    const line = err === undefined ? fields : { ...fields, err };
    if (failed) this.logger.error(line, 'request failed');
    else this.logger.info(line, 'request completed');
  }
}

/**
 * A 503 without an error is an answer the app chose (the store-outage refusal under `deny`, a readiness probe saying
 * not ready): an ordinary line, or an outage would log an error for every request it refuses. Any other 5xx failed.
 */
function isFailure(status: number): boolean {
  return status >= 500 && status !== 503;
}

function fastLineParts(logger: Logger, config: AgentSecurityConfig): PinoLineParts | undefined {
  const logging = config.logging;
  if (logging === false || (logging.redact?.length ?? 0) > 0) return undefined;
  const options = logging.pino ?? {};
  for (const key of Object.keys(options)) {
    if ((options as Record<string, unknown>)[key] !== undefined && !LAYOUT_NEUTRAL.has(key)) return undefined;
  }
  const internals = logger as unknown as Record<symbol, unknown>;
  const { symbols } = pino;
  const stream = internals[symbols.streamSym] as DestinationStream & Record<symbol, unknown>;
  if (stream === undefined || stream[symbols.needsMetadataGsym] === true) return undefined;
  const levelPrefix = (internals[symbols.lsCacheSym] as Record<number, string> | undefined)?.[INFO];
  const time = internals[symbols.timeSym];
  const bindings = internals[symbols.chindingsSym];
  const messageKey = internals[symbols.messageKeySym];
  const end = internals[symbols.endSym];
  // pino's internals as this pino version has them; a version that lays them out otherwise gets pino's own path.
  if (typeof levelPrefix !== 'string' || typeof time !== 'function' || typeof bindings !== 'string') return undefined;
  if (typeof messageKey !== 'string' || typeof end !== 'string') return undefined;
  return {
    levelPrefix,
    time: time as () => string,
    bindings,
    message: `,${JSON.stringify(messageKey)}:"request completed"`,
    end,
    stream,
  };
}

function fastLine(parts: PinoLineParts, fields: CompletionFields): string {
  let line = parts.levelPrefix + parts.time() + parts.bindings;
  if (fields.requestId !== undefined) line += ',"requestId":' + quote(fields.requestId);
  if (fields.method !== undefined) line += ',"method":' + quote(fields.method);
  line += ',"path":' + quote(fields.path);
  if (fields.route !== undefined) line += ',"route":' + quote(fields.route);
  line += ',"status":' + fields.status;
  if (fields.durationMs !== undefined) line += ',"durationMs":' + fields.durationMs;
  if (fields.userId !== undefined) line += ',"userId":' + quote(fields.userId);
  if (fields.tier !== undefined) line += ',"tier":' + quote(fields.tier);
  if (fields.ip !== undefined) line += ',"ip":' + quote(fields.ip);
  if (fields.aborted === true) line += ',"aborted":true';
  if (fields.wouldRefuse !== undefined) line += ',"wouldRefuse":' + quote(fields.wouldRefuse);
  return line + parts.message + parts.end;
}

// A character that JSON must escape, or one that JSON.stringify escapes (a lone surrogate).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

// Nearly every value (a UUID, a path, a subject) has nothing to escape: quoting it is one regex test.
function quote(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : '"' + value + '"';
}
