// Where the operator keeps the Secrets Manager secrets it manages (nhi/<namespace>/<identity>/<secret>),
// and the CEL that decides whether an aws scope reaches another identity's: used by the admission
// policy, the operator's guard (src/policies/aws-managed-secrets.ts) and the AWS provider's names.

import { arnGlobMayReachCel, globsMayOverlapCel } from './glob.ts';

/** The folder of the KV mount where the operator keeps the Vault secrets and ownership records it manages. */
export const VAULT_KV_ROOT = 'nhi';

/** The name prefix of every Secrets Manager secret the operator manages. */
export const MANAGED_PREFIX = 'nhi/';

/** Every managed secret's ARN, in any partition, region and account (Secrets Manager appends `-XXXXXX`). */
export const MANAGED_SECRET_ARNS = `arn:*:secretsmanager:*:*:secret:${MANAGED_PREFIX}*`;

/** CEL over `actions` (as written): can one of them be a Secrets Manager action? */
export const GRANTS_SECRETS_MANAGER = `actions.map(x, x.lowerAscii()).exists(a, ${globsMayOverlapCel('a', "'secretsmanager:*'")})`;

/**
 * CEL over `resource` (as written) and `own` (`nhi/<namespace>/<name>/`): can the pattern match a
 * managed secret's ARN, lower-cased (which only widens it), other than one of the identity's own?
 * A pattern is its own when it has an ARN's seven segments and its name segment starts with `own`
 * literally: its colons are then the ARN's, so every secret it matches is named `own...`.
 * `[x].exists(r, ...)` binds `r` to the lower-cased pattern.
 */
export const REACHES_OTHER_MANAGED_SECRETS =
  `[resource.lowerAscii()].exists(r, ${arnGlobMayReachCel('r', MANAGED_SECRET_ARNS)}) && ` +
  "!(resource.split(':').size() == 7 && resource.split(':')[6].startsWith(own))";
