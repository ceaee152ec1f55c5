/** Every method and path pattern the app serves, so an unmatched request can tell 404 from 405. */
const routes: { method: string; pattern: RegExp }[] = [];

/** Registers an OpenAPI-style path (`/a/{id}`, `/a/{path{.+}}`) under a method. */
export function indexRoute(method: string, path: string): void {
  const source = path
    .replace(/\{([A-Za-z_]+)\{\.\+\}\}/g, "(.+)")
    .replace(/\{[A-Za-z_]+\}/g, "([^/]+)")
    .replace(/:[A-Za-z_]+\{\.\+\}/g, "(.+)")
    .replace(/:[A-Za-z_]+/g, "([^/]+)");
  routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}/?$`) });
}

export function allowedMethods(path: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) if (route.pattern.test(path)) methods.add(route.method);
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}
