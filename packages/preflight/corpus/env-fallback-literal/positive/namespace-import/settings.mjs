export function read(name) {
  return process.env[name];
}
