export function verifyWebhook(signature: string, computedSignature: string): boolean {
  return signature === computedSignature;
}
