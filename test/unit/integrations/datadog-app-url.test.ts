import { describe, expect, it } from 'vitest';
import { DATADOG_SITES } from '../../../src/config.js';
import { datadogAppUrl } from '../../../src/integrations/datadog.js';

describe('datadogAppUrl', () => {
  it("maps every supported site to its web app's address", () => {
    expect(DATADOG_SITES.map(datadogAppUrl)).toEqual([
      'https://app.datadoghq.com',
      'https://us3.datadoghq.com',
      'https://us5.datadoghq.com',
      'https://app.datadoghq.eu',
      'https://ap1.datadoghq.com',
      'https://ap2.datadoghq.com',
      'https://app.ddog-gov.com',
    ]);
  });
});
