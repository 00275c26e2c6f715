// What one request seen by the counting proxy is: for the apiserver, its resource and verb (as the
// apiserver's own request metrics name them); for AWS, the service and action. Pure.

export interface RequestKind {
  /** Apiserver resource (`secrets`, `agentidentities/status`) or AWS `service:Action`. */
  what: string;
  /** get | list | watch | create | update | patch | delete, or the AWS action. */
  verb: string;
  write: boolean;
  /**
   * `identity`: the AgentIdentities themselves; `provider`: what a provider reads and writes
   * (ServiceAccounts, Roles, RoleBindings, Secrets; every AWS call); `other`: Events, Leases, policies.
   */
  area: 'identity' | 'provider' | 'other';
}

const PROVIDER_RESOURCES = new Set(['serviceaccounts', 'roles', 'rolebindings', 'secrets']);

/** The resource and verb of an apiserver request path (`/api/v1/namespaces/a/secrets/b?watch=1`). */
export function classifyKube(method: string, url: string): RequestKind {
  const [path = '', query = ''] = url.split('?');
  const parts = path.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : [];
  const scoped = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  const [resource = parts.join('/') || '/', name, subresource] = scoped;
  const what = subresource ? `${resource}/${subresource}` : resource;
  const params = new URLSearchParams(query);
  const watching = params.get('watch') === 'true' || params.get('watch') === '1';
  const verb =
    method === 'GET'
      ? watching
        ? 'watch'
        : name
          ? 'get'
          : 'list'
      : (({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[
          method
        ] ?? method.toLowerCase());
  const write = !['get', 'list', 'watch'].includes(verb);
  const area =
    resource === 'agentidentities' ? 'identity' : PROVIDER_RESOURCES.has(resource) ? 'provider' : 'other';
  return { what, verb, write, area };
}

const AWS_WRITE = /^(Create|Put|Update|Delete|Tag|Untag|Attach|Detach|Rotate|Restore|Add|Remove|Set|Cancel)/;

/**
 * The action of an AWS request: the JSON protocol names it in `X-Amz-Target` (`secretsmanager.CreateSecret`);
 * the query protocol (IAM, STS) in the form body (`Action=CreateRole&Version=2010-05-08`).
 */
export function classifyAws(target: string | undefined, body: string): RequestKind {
  let service = 'unknown';
  let action = 'unknown';
  if (target?.includes('.')) {
    const [prefix = '', name = ''] = target.split('.');
    service = prefix.toLowerCase();
    action = name;
  } else {
    const form = new URLSearchParams(body);
    action = form.get('Action') ?? 'unknown';
    service = form.get('Version') === '2011-06-15' ? 'sts' : 'iam';
  }
  return { what: `${service}:${action}`, verb: action, write: AWS_WRITE.test(action), area: 'provider' };
}

/** Counts of calls by key, largest first. */
export function tally<T>(items: readonly T[], key: (item: T) => string): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** The most events that fell in any window of `windowMs` (a sliding window over sorted times). */
export function maxInWindow(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
