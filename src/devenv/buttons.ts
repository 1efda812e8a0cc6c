import type { Button } from '@slack/web-api';
import type { DevEnv } from '../integrations/devenv.js';
import { button } from '../slack/blocks.js';

/** Extend a dev environment by 2 hours (`devenv:extend`, judged like `/devenv extend`). */
export function extendButton(env: Pick<DevEnv, 'id'>, style?: 'primary'): Button {
  return button('Extend 2h', 'devenv:extend', env.id, style);
}

/** Terminate it (`devenv:down`), after Slack's own confirmation dialog. */
export function stopButton(env: Pick<DevEnv, 'id' | 'name'>, label = 'Stop (terminate)'): Button {
  return {
    ...button(label, 'devenv:down', env.id, 'danger'),
    confirm: {
      title: { type: 'plain_text', text: 'Terminate it?' },
      text: { type: 'plain_text', text: `${env.name} (${env.id}) and its disk will be gone.` },
      confirm: { type: 'plain_text', text: 'Terminate' },
      deny: { type: 'plain_text', text: 'Keep it' },
    },
  };
}
