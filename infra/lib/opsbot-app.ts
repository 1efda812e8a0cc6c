import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings } from './context.js';
import { OpsbotStack } from './opsbot-stack.js';

export interface OpsbotApp {
  app: App;
  stack: OpsbotStack;
}

/**
 * Builds the app: reads the settings from context, creates the stack and registers cdk-nag's
 * AwsSolutions pack, so that a synth with an unacknowledged finding fails (cdk-nag 3 is a policy
 * validation plugin: `Validations.of(app).addPlugins`, not an Aspect). Tests pass `context` (the
 * defaults of infra/cdk.json plus their variant); the CLI passes it through the environment.
 *
 * @example
 * const { stack } = createOpsbotApp({ context: { ...cdkJsonContext, slackMode: 'http', certificateArn } });
 */
export function createOpsbotApp(props: AppProps = {}): OpsbotApp {
  const app = new App(props);
  const keys = Object.keys({ ...props.context, ...cliContextKeys() });
  const settings = readSettings((key) => app.node.tryGetContext(key), keys);
  const stack = new OpsbotStack(app, 'Opsbot', settings, { stackName: settings.stackName });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/** The context keys the CDK CLI hands the app (cdk.json "context", cdk.context.json, -c). */
function cliContextKeys(): Record<string, unknown> {
  const raw = process.env.CDK_CONTEXT_JSON;
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return {};
  }
}
