import { describe, expect, it } from 'vitest';
import { Readiness } from '../../src/health.js';
import { type HttpLimits, HttpServer, readBody, sendText } from '../../src/http/server.js';
import { captureLogs } from '../helpers/log-capture.js';
import { head, openRaw, responseHeader, send } from '../helpers/raw-http.js';

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

/** A server with `limits`: GET /healthz, POST /in (reads a body of up to 1 MiB), POST /hang (reads, then waits). */
async function limitedServer(limits: Partial<HttpLimits>) {
  const { log } = captureLogs();
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const server = new HttpServer({
    log,
    limits,
    routes: [
      { method: 'GET', path: '/healthz', handler: (_req, res) => sendText(res, 200, 'ok\n') },
      {
        method: 'POST',
        path: '/in',
        handler: async (req, res) => {
          const body = await readBody(req, 1024 * 1024);
          if (body === 'too_large') sendText(res, 413, 'too large');
          else sendText(res, 200, String(body.length));
        },
      },
      {
        method: 'POST',
        path: '/hang',
        handler: async (req, res) => {
          await readBody(req, 1024);
          await gate;
          sendText(res, 200, 'released');
        },
      },
    ],
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port, release };
}

describe('HttpServer under attack', () => {
  it('answers 503 with Retry-After beyond the connection cap, and evicts a stalled connection for a new one', async () => {
    const { server, port, release } = await limitedServer({
      maxConnections: 3,
      stalledAfterMs: 300,
      retryAfterSeconds: 7,
    });
    // Two requests being handled (not evictable), one client stalled half-way through its headers.
    const busy = [0, 1].map(() => send(port, { method: 'POST', path: '/hang', body: 'x' }));
    await expect.poll(() => server.inFlight, { timeout: 5_000 }).toBe(2);
    const stalled = openRaw(port, 'POST /in HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    await expect.poll(() => server.connections, { timeout: 5_000 }).toBe(3);
    // Once it has stalled long enough, a new client gets in by evicting it: /healthz keeps answering.
    await expect
      .poll(async () => (await send(port, { path: '/healthz' })).status, { timeout: 5_000, interval: 100 })
      .toBe(200);
    await stalled.closed;
    // Now every connection is busy: a new one is refused at once, and told when to come back.
    const third = send(port, { method: 'POST', path: '/hang', body: 'x' });
    await expect.poll(() => server.inFlight, { timeout: 5_000 }).toBe(3);
    const refused = openRaw(port, head('GET', '/healthz', {}));
    const { received, ms } = await refused.closed;
    expect(received).toMatch(/^HTTP\/1\.1 503 /);
    expect(responseHeader(received, 'retry-after')).toBe('7');
    expect(ms).toBeLessThan(3_000);
    release();
    expect((await Promise.all([...busy, third])).map((r) => r.status)).toEqual([200, 200, 200]);
    await server.close(1_000);
  });

  it('bounds the bytes buffered across all request bodies: 503 with Retry-After beyond the budget', async () => {
    const { server, port } = await limitedServer({ maxBufferedBodyBytes: 100_000, retryAfterSeconds: 3 });
    const older = openRaw(port, head('POST', '/in', { 'content-length': 100_000 }));
    older.write(Buffer.alloc(60_000, 'a'));
    await expect.poll(() => server.bufferedBodyBytes, { timeout: 5_000 }).toBe(60_000);
    const newer = openRaw(port, head('POST', '/in', { 'content-length': 100_000 }));
    newer.write(Buffer.alloc(35_000, 'b'));
    await expect.poll(() => server.bufferedBodyBytes, { timeout: 5_000 }).toBe(95_000);
    // The older body wants more than there is room for, and no body began before it: refused.
    older.write(Buffer.alloc(10_000, 'a'));
    const { received } = await older.closed;
    expect(received).toMatch(/^HTTP\/1\.1 503 /);
    expect(responseHeader(received, 'retry-after')).toBe('3');
    expect(server.bufferedBodyBytes).toBe(35_000);
    // The newer one was not disturbed: it finishes, and its bytes are given back.
    newer.write(Buffer.alloc(65_000, 'b'));
    await expect.poll(() => newer.received(), { timeout: 5_000 }).toMatch(/\r\n\r\n100000$/);
    newer.destroy();
    await expect.poll(() => server.bufferedBodyBytes, { timeout: 5_000 }).toBe(0);
    await server.close(1_000);
  });

  it('makes room for a newer request by dropping the unfinished body that began first', async () => {
    const { server, port } = await limitedServer({ maxBufferedBodyBytes: 100_000 });
    const slow = openRaw(port, head('POST', '/in', { 'content-length': 200_000 }));
    slow.write(Buffer.alloc(60_000, 'a'));
    await expect.poll(() => server.bufferedBodyBytes, { timeout: 5_000 }).toBe(60_000);
    const fresh = await send(port, { method: 'POST', path: '/in', body: Buffer.alloc(60_000, 'b') });
    expect(fresh).toMatchObject({ status: 200, body: '60000' });
    const { received } = await slow.closed;
    expect(received).toMatch(/^HTTP\/1\.1 503 /);
    await server.close(1_000);
  });

  it('times out headers and bodies within their limits, not on a 30-second sweep', async () => {
    const { server, port } = await limitedServer({ headersTimeoutMs: 1_000, bodyTimeoutMs: 1_000 });
    const noHeaders = openRaw(port, 'POST /in HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    const noBody = openRaw(port, head('POST', '/in', { 'content-length': 100 }));
    noBody.write('0123456789');
    const [headers, body] = await Promise.all([noHeaders.closed, noBody.closed]);
    expect(headers.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(headers.ms).toBeLessThan(5_000);
    expect(body.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(body.ms).toBeLessThan(5_000);
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
