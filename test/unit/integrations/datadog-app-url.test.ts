import { describe, expect, it } from 'vitest';
import { datadogAppUrl } from '../../../src/integrations/datadog.js';
import { DATADOG_SITES } from '../../../src/integrations/datadog-config.js';

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
