import { hash } from '@node-rs/argon2';
await prisma.user.create({ data: { email: 'a@example.test', passwordHash: await hash(readSecret('ADMIN_PASSWORD')) } });
