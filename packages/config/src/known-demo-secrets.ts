/**
 * Secrets that appear in framework docs, quick starts, tutorials, container images and cloud
 * provider documentation. A value equal to one of these (or a trivial variant: other case,
 * separators, digits added at either end) is public knowledge, however random it looks.
 *
 * `contains` entries are matched anywhere in the normalized value, `exact` entries against the
 * whole normalized value, `prefix` entries against the start of the raw value (case-insensitive).
 */
export interface KnownDemoSecret {
  readonly value: string;
  readonly match: 'exact' | 'contains' | 'prefix';
  /** Where it comes from, for the README and for reviewers. */
  readonly origin: string;
}

const demo = (value: string, match: KnownDemoSecret['match'], origin: string): KnownDemoSecret =>
  Object.freeze({ value, match, origin });

/**
 * The built-in list; extend it per key with `secret({ denylist })`.
 *
 * @example
 * ```ts
 * import { KNOWN_DEMO_SECRETS } from '@rampart/config';
 * KNOWN_DEMO_SECRETS.some((entry) => entry.value === 'keyboard cat'); // true
 * ```
 */
export const KNOWN_DEMO_SECRETS: readonly KnownDemoSecret[] = Object.freeze([
  // Framework and library docs
  demo('keyboard cat', 'contains', 'express-session README'),
  demo('your-256-bit-secret', 'contains', 'jwt.io debugger default HS256 key'),
  demo('your-384-bit-secret', 'contains', 'jwt.io debugger default HS384 key'),
  demo('your-512-bit-secret', 'contains', 'jwt.io debugger default HS512 key'),
  demo('a-string-secret-at-least-256-bits-long', 'contains', 'jwt.io debugger default HS256 key (2025)'),
  demo('shhhhh', 'contains', 'jsonwebtoken / express-jwt README'),
  demo('shhhhhhared-secret', 'contains', 'express-jwt README'),
  demo('secretOrPrivateKey', 'contains', 'jsonwebtoken README parameter name pasted as a value'),
  demo('django-insecure-', 'prefix', 'Django startproject generated development key'),
  demo('super-secret-jwt-token-with-at-least-32-characters-long', 'contains', 'Supabase local development JWT secret'),
  demo('_5#y2L"F4Q8z\n\xec]/', 'contains', 'Flask quickstart SECRET_KEY'),
  demo('dev', 'exact', 'Flask tutorial SECRET_KEY'),
  demo('cats', 'exact', 'Passport / express examples session secret'),
  demo('ThisIsMySecretKey', 'contains', 'ASP.NET and Spring tutorials'),
  demo('my-secret-pw', 'contains', 'MySQL Docker image README'),
  demo('mysecretpassword', 'contains', 'Postgres Docker image README'),
  demo('example', 'exact', 'MariaDB / Postgres Docker compose examples'),
  demo('myadminsecretkey', 'contains', 'Hasura quick start admin secret'),
  demo('minioadmin', 'contains', 'MinIO default root credentials'),
  demo('notasecret', 'contains', 'Google Cloud P12 key password'),
  demo('changeit', 'contains', 'Java keystore default password'),
  demo('guest', 'exact', 'RabbitMQ default password'),
  demo('elastic', 'exact', 'Elasticsearch default user/password'),
  demo('postgres', 'exact', 'Postgres default password in examples'),
  demo('root', 'exact', 'Vault dev server and MySQL examples'),
  demo('myroot', 'exact', 'Vault dev root token in tutorials'),
  demo('rabbitmq', 'exact', 'RabbitMQ examples'),
  demo('redis', 'exact', 'Redis examples'),
  demo('s3cr3t', 'exact', 'tutorials'),
  demo('topsecret', 'contains', 'tutorials'),
  demo('supersecret', 'contains', 'tutorials'),
  demo('secretkey', 'contains', 'tutorials'),
  demo('mysecret', 'contains', 'tutorials'),
  // Default keys of self-hosted products, left in place by a large share of deployments
  demo(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJhbm9uIiwKICAgICJpc3MiOiAic3VwYWJhc2UtZGVtbyIsCiAgICAiaWF0IjogMTY0MTc2OTIwMCwKICAgICJleHAiOiAxNzk5NTM1NjAwCn0.dc_X5iR_VP_qT0zsiyj_I_OZ2T9FtRU2BBNWN8Bu4GE',
    'contains',
    'Supabase self-hosting docker/.env.example ANON_KEY (signed with its demo JWT secret)',
  ),
  demo(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJzZXJ2aWNlX3JvbGUiLAogICAgImlzcyI6ICJzdXBhYmFzZS1kZW1vIiwKICAgICJpYXQiOiAxNjQxNzY5MjAwLAogICAgImV4cCI6IDE3OTk1MzU2MDAKfQ.DaYlNEoUrrEn2Ig7tqibS-PHK5vgusbcbo7X36XVt4Q',
    'contains',
    'Supabase self-hosting docker/.env.example SERVICE_ROLE_KEY (signed with its demo JWT secret)',
  ),
  demo(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0',
    'contains',
    'Supabase CLI local development anon key (signed with its local JWT secret)',
  ),
  demo(
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU',
    'contains',
    'Supabase CLI local development service_role key (signed with its local JWT secret)',
  ),
  // Superset before 1.4.1: '\x02\x01thisismyscretkey\x01\x02\\e\\y\\y\\h'. Its distinctive middle
  // is the entry, so the key is found however its escapes were copied (bytes, \2\1…, \x02\x01…).
  demo('thisismyscretkey', 'contains', 'Superset default SECRET_KEY before 1.4.1 (CVE-2023-27524)'),
  demo('CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET', 'contains', 'Superset default SECRET_KEY since 1.4.1 (CVE-2023-27524)'),
  demo('thisISaSECRET_1234', 'contains', 'Superset deployment templates SECRET_KEY (CVE-2023-27524)'),
  demo('YOUR_OWN_RANDOM_GENERATED_SECRET_KEY', 'contains', 'Superset documentation SECRET_KEY (CVE-2023-27524)'),
  demo('TEST_NON_DEV_SECRET', 'contains', 'Superset docker-compose-non-dev SECRET_KEY (CVE-2023-27524)'),
  demo('SW2YcwTIb9zpOOhoPsMm', 'contains', 'Grafana defaults.ini [security] secret_key'),
  // Cloud provider documentation keys
  demo('AKIAIOSFODNN7EXAMPLE', 'contains', 'AWS documentation access key id'),
  demo('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'contains', 'AWS documentation secret access key'),
  demo('je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY', 'contains', 'AWS documentation secret access key'),
  demo('AKIAI44QH8DHBEXAMPLE', 'contains', 'AWS documentation access key id'),
  demo(
    'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
    'contains',
    'Azure Storage emulator (Azurite) well-known account key',
  ),
  demo('devstoreaccount1', 'contains', 'Azure Storage emulator account'),
  demo('sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'contains', 'Stripe documentation test key'),
  demo('pk_test_TYooMQauvdEDq54NiTphI7jx', 'contains', 'Stripe documentation publishable key'),
  demo('ghp_16C7e42F292c6912E7710c838347Ae178B4a', 'contains', 'GitHub documentation personal access token'),
  demo('sk_test_', 'prefix', 'Stripe test-mode secret key used in production'),
  demo('rk_test_', 'prefix', 'Stripe test-mode restricted key used in production'),
  demo('correcthorsebatterystaple', 'contains', 'xkcd 936 example passphrase'),
  // Default credentials and the most common passwords
  ...[
    'password',
    'passw0rd',
    'p@ssw0rd',
    'admin',
    'administrator',
    'letmein',
    'welcome',
    'qwerty',
    'qwertyuiop',
    'asdfgh',
    'zxcvbnm',
    '123456',
    '12345678',
    '123456789',
    '1234567890',
    '111111',
    '000000',
    '123123',
    '654321',
    '1q2w3e4r',
    '1qaz2wsx',
    'abc123',
    'iloveyou',
    'monkey',
    'dragon',
    'sunshine',
    'princess',
    'football',
    'baseball',
    'trustno1',
    'hunter2',
    'master',
    'shadow',
    'starwars',
    'superman',
    'batman',
    'secret',
    'changeme',
    'default',
    'guest',
    'test',
    'testing',
    'tomcat',
    'oracle',
    'mongo',
    'mysql',
    'toor',
    'pass',
    'foobar',
    // Season or company name and a year or digit: Summer2025!, Companyname1!
    'spring',
    'summer',
    'autumn',
    'winter',
    'company',
    'companyname',
  ].map((value) => demo(value, 'exact', 'default credentials / most common passwords')),
]);

/**
 * The keys documentation signs HS256/384/512 JWTs with: jwt.io's default tokens, the
 * jsonwebtoken and express-jwt READMEs, Supabase's local and self-hosting JWT secrets. A JWT one of
 * them verifies is a demo token whatever its claims, so `assessSecret` checks its HMAC against
 * each (a short, bounded list). Every one is, or contains, a {@link KNOWN_DEMO_SECRETS} entry.
 */
export const JWT_DEMO_KEYS: readonly string[] = Object.freeze([
  // jwt.io's classic default token (`"admin": true`, before `your-256-bit-secret`), and tutorials'.
  'secret',
  'your-secret-key',
  'secretkey',
  'your-256-bit-secret',
  'your-384-bit-secret',
  'your-512-bit-secret',
  'a-string-secret-at-least-256-bits-long',
  'shhhhh',
  'shhhhhhared-secret',
  'keyboard cat',
  'super-secret-jwt-token-with-at-least-32-characters-long',
  'your-super-secret-jwt-token-with-at-least-32-characters-long',
]);
