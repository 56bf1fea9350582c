// A secret-named list of field names to redact from logs, walked against the key header's name.
const SECRET_FIELDS = ['password', 'apiKey', 'token'];
export function redactable(req) {
  const header = req.headers['x-api-key'];
  for (const f of SECRET_FIELDS) if (header === f) return true;
  return SECRET_FIELDS.includes(header);
}
