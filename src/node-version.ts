/** The oldest Node.js major opsbot runs on (node:sqlite and the rest of the platform need 22). */
export const MIN_NODE_MAJOR = 22;

/**
 * One line saying which Node.js opsbot needs and which one this is, or undefined when it is new
 * enough. Every entry point checks it first, before importing anything that needs Node 22.
 *
 * @example
 * const problem = nodeVersionProblem(process.versions.node);
 * if (problem) { process.stderr.write(`${problem}\n`); process.exit(2); }
 */
export function nodeVersionProblem(version: string): string | undefined {
  const major = Number(version.split('.')[0]);
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) return undefined;
  return `opsbot needs Node.js ${MIN_NODE_MAJOR} or newer; this is Node.js ${version}. Install Node ${MIN_NODE_MAJOR} LTS (for example with nvm: nvm install ${MIN_NODE_MAJOR}) and try again.`;
}
