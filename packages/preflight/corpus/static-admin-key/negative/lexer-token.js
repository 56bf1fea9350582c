const STRING = 0;
const COMMA = 1;
export function step(context, token, prevToken) {
  if (context.token === '{') return 'object';
  if (token === STRING || token === COMMA) return 'value';
  return prevToken === token ? 'repeat' : 'next';
}
