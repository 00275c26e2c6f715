// `npm run build`'s second step: the operator bundle the image runs (src/dev/bundle.ts).
import { join } from 'node:path';
import { bundleOperator, OPERATOR_BUNDLE } from '../src/dev/bundle.ts';
import { repoRoot } from '../src/dev/components.ts';

bundleOperator(process.argv[2] ?? join(repoRoot, OPERATOR_BUNDLE));
