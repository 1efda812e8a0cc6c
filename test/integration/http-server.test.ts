import { describe, expect, it } from 'vitest';
import { Readiness } from '../../src/health.js';
import { HttpServer, readBody, sendText } from '../../src/http/server.js';
import { captureLogs } from '../helpers/log-capture.js';

describe('HttpServer', () => {
  it('finishes in-flight requests before closing, and refuses new ones', async () => {
    const { log } = captureLogs();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const server = new HttpServer({
      log,
      routes: [
        {
          method: 'GET',
          path: '/slow',
          handler: async (_req, res) => {
            await gate;
            sendText(res, 200, 'done');
          },
        },
      ],
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const slow = fetch(`http://127.0.0.1:${port}/slow`);
    await expect.poll(() => server.inFlight).toBe(1);
    const closing = server.close(5_000);
    await expect(fetch(`http://127.0.0.1:${port}/slow`)).rejects.toThrow();
    release();
    const response = await slow;
    expect(await response.text()).toBe('done');
    expect(await closing).toEqual({ drained: true });
  });

  it('gives up waiting at the deadline', async () => {
    const { log } = captureLogs();
    const server = new HttpServer({
      log,
      routes: [{ method: 'GET', path: '/hang', handler: () => new Promise(() => {}) }],
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const hung = fetch(`http://127.0.0.1:${port}/hang`).catch(() => 'aborted');
    await expect.poll(() => server.inFlight).toBe(1);
    expect(await server.close(100)).toEqual({ drained: false });
    expect(await hung).toBe('aborted');
  });

  it('answers 404, 405 and 500 without leaking the error', async () => {
    const capture = captureLogs();
    const server = new HttpServer({
      log: capture.log,
      routes: [
        { method: 'POST', path: '/boom', handler: () => Promise.reject(new Error('kaboom internals')) },
      ],
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/nothing`)).status).toBe(404);
    expect((await fetch(`${url}/boom`)).status).toBe(405);
    const boom = await fetch(`${url}/boom`, { method: 'POST' });
    expect(boom.status).toBe(500);
    expect(await boom.text()).not.toContain('kaboom');
    expect(capture.text()).toContain('kaboom internals');
    await server.close(1_000);
  });

  it('bounds request bodies', async () => {
    const { log } = captureLogs();
    const server = new HttpServer({
      log,
      routes: [
        {
          method: 'POST',
          path: '/in',
          handler: async (req, res) => {
            const body = await readBody(req, 1024);
            if (body === 'too_large') sendText(res, 413, 'too large');
            else sendText(res, 200, String(body.length));
          },
        },
      ],
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const small = await fetch(`http://127.0.0.1:${port}/in`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(await small.text()).toBe('1024');
    const big = await fetch(`http://127.0.0.1:${port}/in`, { method: 'POST', body: 'x'.repeat(1025) });
    expect(big.status).toBe(413);
    await server.close(1_000);
  });
});

describe('Readiness', () => {
  it('is ready only when every check passes, and a hung or throwing check counts as not ready', async () => {
    const readiness = new Readiness();
    expect(await readiness.report()).toEqual({ ready: true, checks: {} });
    let secretsLoaded = false;
    readiness.register('secrets', () => secretsLoaded);
    readiness.register('state', async () => true);
    expect(await readiness.report()).toEqual({ ready: false, checks: { secrets: false, state: true } });
    secretsLoaded = true;
    expect((await readiness.report()).ready).toBe(true);
    readiness.register('hung', () => new Promise(() => {}));
    readiness.register('throws', () => {
      throw new Error('x');
    });
    expect(await readiness.report(50)).toEqual({
      ready: false,
      checks: { secrets: true, state: true, hung: false, throws: false },
    });
    readiness.markShuttingDown();
    expect((await readiness.report(50)).checks.shutdown).toBe(false);
  });
});
