// Bundles each handler under lambda/<provider>/index.ts into assets/<provider>/index.js.
// The AWS SDK v3 clients are bundled in (not taken from the Lambda runtime): see CONTRIBUTING.md "Handler bundles".
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const providers = readdirSync(join(root, 'lambda'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, 'lambda', d.name, 'index.ts')))
  .map((d) => d.name);

// Start from an empty assets/, so that a renamed or removed provider leaves no stale bundle to ship.
rmSync(join(root, 'assets'), { recursive: true, force: true });
for (const provider of providers) {
  const outdir = join(root, 'assets', provider);
  await build({
    entryPoints: [join(root, 'lambda', provider, 'index.ts')],
    outfile: join(outdir, 'index.js'),
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
  });
  console.log(`bundled lambda/${provider} -> assets/${provider}/index.js`);
}
