// Checks the bearer token's scope before every admin route.
export const guard = requireScope('admin');
