// Node side: which of the servers in service-list.ts answer right now (global setups provide it).
import { canConnect } from "./net";
import { SERVICES, type ServiceAvailability, type ServiceName } from "./service-list";

export async function probeServices(): Promise<ServiceAvailability> {
  const names = Object.keys(SERVICES) as ServiceName[];
  const up = await Promise.all(names.map((name) => canConnect(SERVICES[name].host, SERVICES[name].port)));
  return Object.fromEntries(names.map((name, i) => [name, up[i]])) as ServiceAvailability;
}
