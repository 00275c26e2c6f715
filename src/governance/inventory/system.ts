// ServiceAccounts Kubernetes itself creates and runs: reported as type System, never as shadow
// identities. These are the only accounts the inventory does not judge.

export const SYSTEM_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'] as const;

/** What is classified as System, in words, for `nhictl inventory` and the report. */
export const SYSTEM_RULES: readonly string[] = [
  'the `default` ServiceAccount of every namespace (created by the serviceaccount controller)',
  `every ServiceAccount in ${SYSTEM_NAMESPACES.join(', ')} (controller and node accounts such as deployment-controller, generic-garbage-collector)`,
  'legacy token Secrets of the accounts above',
];

/** Why a ServiceAccount is a system account, or undefined when it is not one. */
export function isSystemServiceAccount(namespace: string, name: string): string | undefined {
  if ((SYSTEM_NAMESPACES as readonly string[]).includes(namespace)) return `built-in account in ${namespace}`;
  if (name === 'default') return 'built-in default ServiceAccount of the namespace';
  return undefined;
}
