/**
 * The CDK app's entry point (infra/cdk.json: "app": "npx tsx app.ts"). `npm run synth` runs it
 * offline: no lookups, no account needed; the settings come from CDK context (lib/context.ts).
 */

import { ConfigFileError } from './lib/config-file.js';
import { ContextError } from './lib/context.js';
import { createOpsbotApp } from './lib/opsbot-app.js';

try {
  createOpsbotApp().app.synth();
} catch (error) {
  if (error instanceof ContextError || error instanceof ConfigFileError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
