/**
 * `OPSBOT_SECRET_SLACK`, … : the variable holding an integration's secret as JSON (the `env`
 * secret source reads it; the configuration knows these names so it never echoes their values).
 */
export function envVariableFor(integration: string): string {
  return `OPSBOT_SECRET_${integration.toUpperCase().replace(/-/g, '_')}`;
}
