import { ErrorCode, UserFacingError } from '../errors.js';
import { inlineCode } from '../text/escape.js';
import { EXAMPLE_ID } from './instance-id.js';

/** What an EC2 call was about, for the sentence: the instance (id or name) or the template. */
export interface Ec2Subject {
  instance?: string;
  template?: string;
  instanceType?: string;
}

/** The error code EC2 answered (the SDK's error `name`), when it answered one. */
export function ec2ErrorCode(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | undefined)?.name;
  const fault = (error as { $fault?: unknown } | undefined)?.$fault;
  return typeof name === 'string' && (fault === 'client' || fault === 'server') ? name : undefined;
}

/**
 * The sentence for an EC2 error a user's request caused (a malformed or unknown id, an instance in
 * the wrong state, a template AWS does not know, no capacity), or undefined for anything else
 * (those stay internal errors, logged with the request id). EC2's own message is never echoed: it
 * may carry an encoded authorization message.
 */
export function ec2UserError(error: unknown, subject: Ec2Subject = {}): UserFacingError | undefined {
  const code = ec2ErrorCode(error);
  if (!code) return undefined;
  const instance = subject.instance ? inlineCode(subject.instance) : 'That instance';
  const template = subject.template ? inlineCode(subject.template) : 'this template';
  const say = (text: string, errorCode?: ErrorCode) =>
    new UserFacingError(text, { cause: error, ...(errorCode ? { code: errorCode } : {}) });
  switch (code) {
    case 'InvalidInstanceID.Malformed':
    case 'InvalidID':
      return say(
        `${instance} is not an EC2 instance id: an id is \`i-\` and 8 or 17 hex digits, like \`${EXAMPLE_ID}\`. You can also use its name; \`/devenv list\` shows both.`,
      );
    case 'InvalidInstanceID.NotFound':
      return say(`${instance} does not exist (any more). \`/devenv list\` shows your dev environments.`);
    case 'IncorrectInstanceState':
      return say(
        `${instance} cannot do that in its current state. \`/devenv list\` shows its state; try again once it is running.`,
      );
    case 'InvalidLaunchTemplateId.NotFound':
    case 'InvalidLaunchTemplateId.Malformed':
    case 'InvalidLaunchTemplateName.NotFoundException':
    case 'InvalidLaunchTemplateId.VersionNotFound':
      return say(
        `The launch template of ${template} does not exist in AWS. Ask an opsbot admin to fix its \`launchTemplate\` under \`devenv.templates\`.`,
        ErrorCode.NotConfigured,
      );
    case 'InstanceLimitExceeded':
    case 'VcpuLimitExceeded':
    case 'InsufficientInstanceCapacity':
    case 'Unsupported':
      return say(
        `AWS cannot start another ${subject.instanceType ? inlineCode(subject.instanceType) : 'instance'} right now (${code}). Try again later, or another template.`,
        ErrorCode.UpstreamUnavailable,
      );
    case 'UnauthorizedOperation':
    case 'AccessDenied':
    case 'AccessDeniedException':
      return say(
        `The dev-env role may not do that (AWS answered ${code}). Ask an opsbot admin to check the role's policy.`,
        ErrorCode.AccessDenied,
      );
    case 'RequestLimitExceeded':
    case 'Throttling':
      return say('AWS is throttling EC2 calls right now. Try again in a minute.', ErrorCode.RateLimited);
    default:
      return undefined;
  }
}

/** Rethrows `error` as its user-facing sentence when it has one, else as it is. */
export function rethrowEc2(error: unknown, subject?: Ec2Subject): never {
  throw ec2UserError(error, subject) ?? error;
}
