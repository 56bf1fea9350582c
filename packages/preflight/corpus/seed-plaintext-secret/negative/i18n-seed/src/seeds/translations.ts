// Labels of the sign-in form, seeded into the CMS: words, not credentials.
export const translations = {
  en: { email: 'Email', password: 'Password', apiKey: 'API key' },
  fr: { email: 'E-mail', password: 'Mot de passe', apiKey: 'Clé API' },
};
