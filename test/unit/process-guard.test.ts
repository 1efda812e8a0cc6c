import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { InternalError, UserFacingError } from '../../src/errors.js';
import { isProgrammingError, type ProcessFault, ProcessGuard } from '../../src/process-guard.js';
import { captureLogs } from '../helpers/log-capture.js';

/** A guard on a private emitter (never the test runner's own process), with what it reported. */
function guarded() {
  const target = new EventEmitter();
  const fatal: ProcessFault[] = [];
  let stderr = '';
  const guard = new ProcessGuard({
    target,
    stderr: { write: (text: string) => (stderr += text) },
    onFatal: (fault) => fatal.push(fault),
  }).install();
  return { target, guard, fatal, stderr: () => stderr };
}

const slackError = () =>
  Object.assign(new Error('An API error occurred: invalid_auth'), {
    code: 'slack_webapi_platform_error',
    data: { ok: false, error: 'invalid_auth' },
  });

describe('isProgrammingError', () => {
  it('says yes to the mistakes of code, no to failures of the world outside', () => {
    expect(isProgrammingError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(true);
    expect(isProgrammingError(new ReferenceError('x is not defined'))).toBe(true);
    expect(isProgrammingError(new RangeError('Invalid array length'))).toBe(true);
    expect(isProgrammingError(new InternalError('invariant broken'))).toBe(true);
    expect(isProgrammingError(Object.assign(new Error('x'), { code: 'ERR_ASSERTION' }))).toBe(true);
    expect(isProgrammingError('a string')).toBe(true);
    expect(isProgrammingError(new Error('no code: nobody meant this'))).toBe(true);

    expect(isProgrammingError(slackError())).toBe(false);
    expect(isProgrammingError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(
      false,
    );
    expect(
      isProgrammingError(
        new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
      ),
    ).toBe(false);
    expect(isProgrammingError(new UserFacingError('try again'))).toBe(false);
    expect(isProgrammingError(Object.assign(new Error('Rate exceeded'), { $metadata: {} }))).toBe(false);
    expect(isProgrammingError(new DOMException('aborted', 'AbortError'))).toBe(false);
  });
});

describe('ProcessGuard', () => {
  it('logs an operational unhandled rejection through the redacting logger and keeps running', () => {
    const { target, guard, fatal, stderr } = guarded();
    const capture = captureLogs();
    capture.redactor.register('xapp-1-secret-value');
    guard.attach(capture.log);
    const error = slackError();
    error.message += ' for xapp-1-secret-value';
    target.emit('unhandledRejection', error, Promise.resolve());
    expect(fatal).toEqual([]);
    expect(stderr()).toBe('');
    const [record] = capture.records();
    expect(record).toMatchObject({ level: 'error', event: 'unhandledRejection' });
    expect(String(record?.msg)).toContain('keeps running');
    expect(capture.text()).not.toContain('xapp-1-secret-value');
  });

  it('reports a programming error once, as fatal, and asks to stop', () => {
    const { target, guard, fatal } = guarded();
    const capture = captureLogs();
    guard.attach(capture.log);
    const bug = new TypeError("Cannot read properties of undefined (reading 'ts')");
    target.emit('unhandledRejection', bug, Promise.resolve());
    target.emit('uncaughtException', new RangeError('second'), 'uncaughtException');
    expect(fatal).toEqual([{ event: 'unhandledRejection', error: bug }]);
    const records = capture.records();
    expect(records[0]).toMatchObject({ level: 'fatal', event: 'unhandledRejection' });
    expect(records[0]?.err).toMatchObject({ type: 'TypeError' });
    expect(records[1]).toMatchObject({ level: 'fatal', event: 'uncaughtException' });
  });

  it('treats every uncaught exception as fatal: the process state is unknown after one', () => {
    const { target, guard, fatal } = guarded();
    guard.attach(captureLogs().log);
    target.emit('uncaughtException', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    expect(fatal.map((f) => f.event)).toEqual(['uncaughtException']);
  });

  it('before a logger is attached, writes one line without a stack trace', () => {
    const { target, fatal, stderr } = guarded();
    target.emit('uncaughtException', new TypeError('boom\nsecond line'));
    expect(stderr()).toBe('opsbot: unexpected TypeError (uncaughtException): boom; stopping\n');
    expect(fatal).toHaveLength(1);
  });

  it('uninstall removes its handlers', () => {
    const { target, guard } = guarded();
    expect(target.listenerCount('unhandledRejection')).toBe(1);
    expect(target.listenerCount('uncaughtException')).toBe(1);
    guard.uninstall();
    expect(target.listenerCount('unhandledRejection')).toBe(0);
    expect(target.listenerCount('uncaughtException')).toBe(0);
  });
});
