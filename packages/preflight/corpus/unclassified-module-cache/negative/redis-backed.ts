export async function allow(redis: { incr(k: string): Promise<number> }, ip: string): Promise<boolean> {
  return (await redis.incr(`rl:${ip}`)) <= 100;
}
