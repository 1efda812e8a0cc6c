import { SimulatedSecretsManager } from '../../src/sandbox/secrets-manager.js';
import { startMoto, warnMotoMissing } from './moto.js';

export interface SecretsManagerTarget {
  target: 'sandbox' | 'moto';
  url: string;
  /** True when moto_server is not installed: the run is skipped, and a warning was printed. */
  skip: boolean;
}

/**
 * The two Secrets Manager implementations a suite runs against: the sandbox, and moto_server (an
 * independent emulator) when it is installed. Use with `describe.each(targets)` and `it.skipIf(skip)`.
 */
export async function secretsManagerTargets(suite: string): Promise<{
  sandbox: SimulatedSecretsManager;
  sandboxUrl: string;
  targets: SecretsManagerTarget[];
  stop(): Promise<void>;
}> {
  const sandbox = new SimulatedSecretsManager();
  const sandboxUrl = (await sandbox.start()).url;
  const moto = await startMoto();
  if (!moto) warnMotoMissing(suite);
  return {
    sandbox,
    sandboxUrl,
    targets: [
      { target: 'sandbox', url: sandboxUrl, skip: false },
      { target: 'moto', url: moto?.url ?? '', skip: !moto },
    ],
    async stop() {
      await sandbox.stop();
      await moto?.stop();
    },
  };
}
