export const reminder = 'TODO: add auth';
