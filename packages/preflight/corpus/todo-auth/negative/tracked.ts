// TODO(https://tracker.example.test/SEC-1, expires 2027-06-30): rotate the signing keys automatically
export const rotateEvery = '90d';
