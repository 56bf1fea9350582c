/*
 * TODO verify the csrf token here
 */
function submit(req) {
  return save(req.body);
}
