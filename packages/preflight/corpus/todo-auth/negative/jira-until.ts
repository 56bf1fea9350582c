// FIXME SEC-123 until 2027-01-01: move the login throttle to Redis
export const throttle = 10;
