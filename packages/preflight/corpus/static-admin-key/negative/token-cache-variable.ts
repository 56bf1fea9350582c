// A client that caches its own access token: module state, but mutable and not a stored key;
// and a module constant with a neutral name.
let accessToken: string | undefined;
const defaultRegion = 'eu-west-1';
export async function call(fresh: () => Promise<string>, current: string, region: string): Promise<boolean> {
  if (current !== accessToken) accessToken = await fresh();
  return region === defaultRegion;
}
