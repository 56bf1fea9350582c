// Loads todos for the signed-in user's session
export const todoList = (session: { user: string }) => listTodos(session.user);
