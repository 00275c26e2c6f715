// One raw OpenBao HTTP call, for tests that check what the server really holds.

export interface BaoAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: raw OpenBao JSON
  json: Record<string, any>;
}

/** `token` '' makes an unauthenticated call (a login). */
export async function baoCall(
  addr: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<BaoAnswer> {
  const response = await fetch(`${addr}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'x-vault-token': token } : {}), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : {} };
}
