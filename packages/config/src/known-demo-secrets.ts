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
  ].map((value) => demo(value, 'exact', 'default credentials / most common passwords')),
]);
