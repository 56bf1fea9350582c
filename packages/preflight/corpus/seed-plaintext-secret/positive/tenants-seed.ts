export const tenants = [
  { slug: 'acme', webhookSecret: 'whsec_acme_local' },
];
