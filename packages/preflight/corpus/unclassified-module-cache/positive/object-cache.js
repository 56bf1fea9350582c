const cache = {};
export function render(req, res) {
  cache[req.url] = cache[req.url] || expensive(req.url);
  res.end(cache[req.url]);
}
