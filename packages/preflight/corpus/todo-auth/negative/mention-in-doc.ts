/** `todo-auth`: reports TODO/FIXME/HACK comments near authentication code. This line only mentions them. */
export const ruleName = 'todo-auth';
