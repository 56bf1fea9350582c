// @deprecated is how TSDoc marks old APIs; this line is not a TSDoc comment.
export const x = 1;
