import type { CommandModule } from '../src/command-kit/command-spec.js';
import { dd } from './dd.js';
import { devenv } from './devenv.js';
import { gh } from './gh.js';
import { jira } from './jira.js';
import { opsbot } from './opsbot.js';

/** Every slash command, in the order help lists them. Names match infra/slack-manifest.yaml. */
export const COMMANDS: readonly CommandModule[] = [gh, jira, dd, devenv, opsbot];
