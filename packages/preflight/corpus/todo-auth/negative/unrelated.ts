// TODO: faster pagination for the product list
export const pageSize = 50;
