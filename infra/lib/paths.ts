import { fileURLToPath } from 'node:url';

/** The repository root: the Docker build context and the base of `configFile`. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** The Dockerfile, relative to {@link REPO_ROOT}. */
export const DOCKERFILE = 'infra/Dockerfile';

/** Where the image keeps the configuration file (OPSBOT_CONFIG). */
export const CONFIG_PATH_IN_IMAGE = '/app/opsbot.yaml';

/** The port the container listens on (PORT). */
export const CONTAINER_PORT = 3000;
