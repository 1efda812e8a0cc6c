import { createRequire } from 'node:module';
import { join } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { REPO_ROOT } from './paths.js';

/** The rotation function's source (built as `dist/src/rotation/lambda.js`, export `handler`). */
export const ROTATION_ENTRY = 'src/rotation/lambda.ts';
/** The file every bundle writes, and the handler Lambda calls (each function's entry exports `handler`). */
export const BUNDLE_FILE = 'index.mjs';
export const BUNDLE_HANDLER = 'index.handler';
export const ROTATION_BUNDLE_FILE = BUNDLE_FILE;
export const ROTATION_HANDLER = BUNDLE_HANDLER;

/** The part of esbuild's API used here (esbuild comes with the dev dependencies, tsx and vitest). */
interface Esbuild {
  buildSync(options: Record<string, unknown>): { errors: unknown[] };
}

/**
 * Bundles one of opsbot's Lambda functions (`entry`, relative to the repository, exporting
 * `handler`) into `outDir/index.mjs` with esbuild, offline: one ES module with its dependencies
 * (the AWS SDK included, so the version is the lockfile's, not the runtime's). The production
 * dependencies as a tree are about 280 MB, over Lambda's 250 MB; a bundle is about 13 MB. Class
 * names are kept, so errors and logs name their types as in the server.
 *
 * @throws Error saying to run `npm ci` when esbuild is not installed.
 */
export function bundleFunction(entry: string, outDir: string): void {
  let esbuild: Esbuild;
  try {
    esbuild = createRequire(join(REPO_ROOT, 'package.json'))('esbuild') as Esbuild;
  } catch (error) {
    throw new Error(
      `opsbot infra: the Lambda function ${entry} is bundled with esbuild, which is not installed: run npm ci at the repository root, then synth again (${(error as Error).message})`,
    );
  }
  esbuild.buildSync({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile: join(outDir, BUNDLE_FILE),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'error',
    // CommonJS dependencies call require() for Node's built-ins: give the ES module one.
    banner: {
      js: "import { createRequire as __opsbotRequire } from 'node:module'; const require = __opsbotRequire(import.meta.url);",
    },
  });
}

/** The rotation function's bundle (see {@link bundleFunction}). */
export function bundleRotationFunction(outDir: string): void {
  bundleFunction(ROTATION_ENTRY, outDir);
}

/**
 * A function's code: the bundle of `entry` above, made at synth time on this machine (no Docker).
 * Build it once per entry and share it between the functions that run it, so that each bundle is
 * built and uploaded once.
 */
export function functionCode(entry: string): lambda.Code {
  return lambda.Code.fromAsset(join(REPO_ROOT, 'src'), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: local bundling always answers (or says to run npm ci).
      image: DockerImage.fromRegistry('node:22-bookworm-slim'),
      // CDK caches staged assets by source path and bundling options, in which the local bundler (a
      // function) does not show: without the entry here, every entry would get the first one's bundle.
      environment: { OPSBOT_BUNDLE_ENTRY: entry },
      local: {
        tryBundle(outputDir: string): boolean {
          bundleFunction(entry, outputDir);
          return true;
        },
      },
    },
  });
}

/** The rotation function's code, one `Code` for every rotation function of the stack. */
export function rotationFunctionCode(): lambda.Code {
  return functionCode(ROTATION_ENTRY);
}
