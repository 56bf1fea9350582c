const { STRIPE_SECRET_KEY = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc', PORT = '3000' } = process.env;
export { STRIPE_SECRET_KEY, PORT };
