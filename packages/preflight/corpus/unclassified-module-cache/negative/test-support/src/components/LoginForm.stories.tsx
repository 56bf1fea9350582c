const submitted: unknown[] = [];
export const Default = { args: { onSubmit: (values: unknown) => submitted.push(values) } };
export function onSubmit(values: unknown): void {
  submitted.push(values);
}
