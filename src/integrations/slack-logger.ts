import { LogLevel, type Logger as SlackClientLogger } from '@slack/web-api';
import type { Logger } from '../log.js';

const LEVELS: Record<LogLevel, number> = {
  [LogLevel.DEBUG]: 20,
  [LogLevel.INFO]: 30,
  [LogLevel.WARN]: 40,
  [LogLevel.ERROR]: 50,
};

/**
 * Bolt and the Web API client log through this: one pino stream (redacted like every other line),
 * never the console. Their chatter is one level quieter than ours: info becomes debug.
 */
export function slackLogger(log: Logger): SlackClientLogger {
  let level: LogLevel = LogLevel.WARN;
  let name = 'slack';
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : String(m))).join(' ');
  const at = (wanted: LogLevel) => LEVELS[wanted] >= LEVELS[level];
  return {
    debug: (...msg) => at(LogLevel.DEBUG) && log.trace({ source: name }, text(msg)),
    info: (...msg) => at(LogLevel.INFO) && log.debug({ source: name }, text(msg)),
    warn: (...msg) => at(LogLevel.WARN) && log.warn({ source: name }, text(msg)),
    error: (...msg) => at(LogLevel.ERROR) && log.error({ source: name }, text(msg)),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: (next) => {
      name = next;
    },
  };
}
