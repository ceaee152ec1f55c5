// Seeding through the public API, as a client would (so the data is exactly what Hush writes).

/**
 * One JSON call; throws on an unexpected status.
 * @param {string} baseUrl @param {string} method @param {string} path
 * @param {{ token?: string, body?: unknown, expect?: number[] }} [options]
 * @returns {Promise<any>}
 */
export async function call(baseUrl, method, path, { token, body, expect = [200, 201] } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * Creates an API token (never the root token: a real client's read includes the token lookup).
 * @example
 * const token = await createToken(hush.url, rootToken, ["secrets:read"], ["bench/*"]);
 */
export async function createToken(baseUrl, rootToken, scopes, paths) {
  const created = await call(baseUrl, "POST", "/api/v1/tokens", {
    token: rootToken,
    body: { subject: "bench", scopes, ...(paths && { paths }) },
  });
  return created.token;
}

/** Runs `task(i)` for i < count, `parallel` at a time. */
export async function inParallel(count, parallel, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** Stores `count` secrets `${prefix}${i}` in Hush with a realistic value. */
export const seedHush = (baseUrl, token, prefix, count) =>
  inParallel(count, 8, (i) =>
    call(baseUrl, "PUT", `/api/v1/secrets/store/${prefix}${i}`, { token, body: { value: `postgres://app:${"x".repeat(24)}${i}@db.internal:5432/app` } }),
  );

/** The same secrets in the floor Worker (its plain table; with `token`, also its "same storage work" tables). */
export const seedFloor = (baseUrl, prefix, count, token) =>
  inParallel(count, 8, async (i) => {
    const body = { value: `postgres://app:${"x".repeat(24)}${i}@db.internal:5432/app` };
    await call(baseUrl, "PUT", `/write/${prefix}${i}`, { body });
    if (token) await call(baseUrl, "PUT", `/write-same/${prefix}${i}`, { token, body });
  });
