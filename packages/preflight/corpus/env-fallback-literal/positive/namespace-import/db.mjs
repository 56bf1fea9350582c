import * as settings from './settings.mjs';

export const password = settings.read('DB_PASSWORD') ?? 'hunter2';
