// Named glob cases from real IAM policies, shared by the unit tests (@bufbuild/cel and the exact
// reference) and test/integration/api/glob.test.ts (kube-apiserver).

import { MANAGED_SECRET_ARNS } from '../managed-secrets.ts';

/** [a, b, do they overlap as flat globs]: the same answer both ways round. */
export const GLOB_OVERLAP_CASES: ReadonlyArray<readonly [string, string, boolean]> = [
  ['sts:assumerol?', 'sts:assumerole', true],
  ['sts:*role', 'sts:assumerole', true],
  ['sts:assume*', 'sts:assumerole', true],
  ['sts:assumerole', 'sts:assumerole', true],
  ['sts:assumerolewithwebidentity', 'sts:assumerole', false],
  ['s3:get*', 'iam:*', false],
  ['iam:*', 'iam:createuser', true],
  ['iam:create*', 'iam:*user', true],
  ['iam:delete*', 'iam:create*', false],
  ['*', 'iam:createuser', true],
  ['*', '', true],
  ['*:*', 'iam:passrole', true],
  ['arn:aws:secretsmanager:*:*:secret*', 'arn:aws:secretsmanager:*:*:secret:nhi/*', true],
  ['arn:aws:secretsmanager:*:*:*', 'arn:aws:secretsmanager:*:*:secret:nhi/*', true],
  // As flat globs these overlap, both matching arn:aws:secretsmanager:us-east-1:1:secret:crm/x:y:secret:nhi/
  // (no real ARN: arnGlobMayReachCel, whose target wildcards stay within a segment, says false).
  ['arn:aws:secretsmanager:us-east-1:1:secret:crm/*', 'arn:aws:secretsmanager:*:*:secret:nhi/*', true],
  ['arn:aws:secretsmanager:us-east-1:1:secret:nh?/*', 'arn:aws:secretsmanager:*:*:secret:nhi/*', true],
  ['arn:aws:s3:::bucket/*', 'arn:aws:secretsmanager:*:*:secret:nhi/*', false],
];

/** The shape of every managed secret's ARN; its wildcards stay within a segment. */
export const MANAGED_ARN = MANAGED_SECRET_ARNS;

/** [requested resource pattern, can it match a managed secret's ARN]. */
export const MANAGED_ARN_REACH_CASES: ReadonlyArray<readonly [string, boolean]> = [
  ['*', true],
  ['arn:*', true],
  ['arn:aws:secretsmanager:*', true],
  ['arn:aws:secretsmanager:*:*:*', true],
  ['arn:aws:secretsmanager:*:*:secret*', true],
  ['arn:aws:secretsmanager:*:*:secret:*', true],
  ['arn:aws:secretsmanager:*:*:secret:nhi/*', true],
  ['arn:aws:secretsmanager:us-east-1:111122223333:secret:nh?/*', true],
  ['arn:aws:secretsmanager:us-east-1:111122223333:secret:n*', true],
  ['arn:aws-cn:secretsmanager:*:*:secret:nhi/a/b/c-abcdef', true],
  ['arn:aws:secretsmanager:*:*:*:nhi/*', true],
  ['*:nhi/*', true],
  ['arn:aws:secretsmanager:us-east-1:1:secret:crm/*', false],
  ['arn:aws:secretsmanager:*:*:secret:crm/*', false],
  ['arn:aws:secretsmanager:*:*:secret:nhi', false],
  ['arn:aws:secretsmanager:*:*:secret:nhi/*:extra', false],
  ['arn:aws:s3:::bucket/*', false],
  ['arn:aws:iam::111122223333:role/*', false],
  ['arn:aws:secretsmanager:us-east-1:1:secret', false],
  // The target's region may be any colon-free text, `crm/` included.
  ['*:crm/*', true],
  ['arn:aws:s3:*', false],
];
