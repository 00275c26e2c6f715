// Test namespaces carry the environment label the platform would set: the admission policy reads a
// namespace's environment from it (an unlabelled namespace is production, failing closed).

import type * as k8s from '@kubernetes/client-node';
import { Marks } from '../../src/api/v1alpha1/annotations.ts';
import type { Environment } from '../../src/api/v1alpha1/types.ts';

export function namespaceBody(name: string, environment: Environment = 'development'): k8s.V1Namespace {
  return { metadata: { name, labels: { [Marks.environment]: environment } } };
}
