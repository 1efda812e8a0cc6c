import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import type { Config } from '../../src/config.js';
import type { Credential } from '../../src/credentials/secret-entry.js';
import { type DatadogSecret, datadog, MAX_DATADOG_RESPONSE_BYTES } from '../../src/integrations/datadog.js';
import { RateLimits } from '../../src/integrations/rate-limits.js';
import { createMetrics } from '../../src/metrics.js';
import { captureLogs } from '../helpers/log-capture.js';

/**
 * The Datadog client reads at most {@link MAX_DATADOG_RESPONSE_BYTES} of an answer: a server that
 * sends more (a proxy gone wrong, a hostile endpoint) is refused instead of filling the heap.
 */
describe('the Datadog client on an oversized answer', () => {
  let server: Server;
  let url = '';
  let sent = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 32);
      // A JSON array padded with spaces, well past the limit.
      res.write('[');
      const pump = () => {
        while (sent < MAX_DATADOG_RESPONSE_BYTES * 2) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end(']');
      };
      res.on('error', () => undefined);
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses it past the limit, without reading the rest', async () => {
    const secret: DatadogSecret = {
      apiKey: 'dd-api-test-canary',
      appKey: 'dd-app-test-canary',
      webhookSecret: 'w',
    };
    const deps = {
      config: { datadog: { site: 'datadoghq.com', apiUrl: url } } as unknown as Config,
      log: captureLogs().log,
      clock: systemClock,
      metrics: createMetrics({ defaultMetrics: false }),
      rateLimits: new RateLimits({ clock: systemClock }),
    };
    const client = datadog.createClient?.(secret, deps, {} as Credential<DatadogSecret>);
    expect(client).toBeDefined();
    const apis = await client?.apis();
    const error = await apis?.monitors.listMonitors().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(error)).toContain(`more than ${MAX_DATADOG_RESPONSE_BYTES} bytes`);
    expect(sent).toBeLessThan(MAX_DATADOG_RESPONSE_BYTES * 2);
  });
});
