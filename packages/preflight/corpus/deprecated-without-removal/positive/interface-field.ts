export interface Options {
  /**
   * @deprecated
   * @see tokenTtl
   */
  ttl?: number;
}
