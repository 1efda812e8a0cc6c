import { Annotations, App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings } from './context.js';
import { controlTowerValidator } from './control-tower.js';
import { OpsbotStack } from './opsbot-stack.js';

export interface OpsbotApp {
  app: App;
  stack: OpsbotStack;
}

export interface OpsbotAppOptions {
  /**
   * Check AWS Control Tower's proactive controls (default true, as `npm run synth` and `cdk deploy`
   * do). cfn-guard takes seconds a synth; tests of other properties turn it off.
   */
  controlTower?: boolean;
}

/**
 * Builds the app: reads the settings from context, creates the stack and registers cdk-nag's
 * AwsSolutions pack and AWS Control Tower's proactive controls (cfn-guard), so that a synth with an
 * unacknowledged finding of either fails (both are policy validation plugins:
 * `Validations.of(app).addPlugins`, not Aspects). Tests pass `context` (the defaults of
 * infra/cdk.json plus their variant); the CLI passes it through the environment.
 *
 * @example
 * const { stack } = createOpsbotApp({ context: { ...cdkJsonContext, slackMode: 'http', certificateArn } });
 */
export function createOpsbotApp(props: AppProps = {}, options: OpsbotAppOptions = {}): OpsbotApp {
  const app = new App(props);
  const keys = Object.keys({ ...props.context, ...cliContextKeys() });
  const settings = readSettings((key) => app.node.tryGetContext(key), keys);
  const stack = new OpsbotStack(app, 'Opsbot', settings, { stackName: settings.stackName });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  if (options.controlTower ?? true) {
    const controlTower = controlTowerValidator();
    if (controlTower) Validations.of(app).addPlugins(controlTower);
    else
      Annotations.of(stack).addWarningV2(
        'opsbot:control-tower',
        `AWS Control Tower's proactive controls were not checked: cfn-guard has no binary for ${process.platform}/${process.arch} (Linux or macOS, x64 or arm64)`,
      );
  }
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
