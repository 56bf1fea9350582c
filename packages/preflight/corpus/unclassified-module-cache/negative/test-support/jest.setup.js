const mocks = [];
export function mock(m) {
  mocks.push(m);
}
