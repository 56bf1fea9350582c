// todo: tenant isolation
export const rows = (tenantId: string) => db.query('select * from orders');
