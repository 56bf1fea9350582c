import type { MigrationInterface, QueryRunner } from 'typeorm';
export class SeedAdmin1700000000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`INSERT INTO "user" ("email", "password") VALUES ('ops@example.test', 'opsops123')`);
  }
  async down(): Promise<void> {}
}
