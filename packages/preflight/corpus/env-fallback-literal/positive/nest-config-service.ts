import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

@Injectable()
export class AuthConfig {
  constructor(private readonly config: ConfigService) {}

  jwtSecret(): string {
    return this.config.get<string>('JWT_SECRET') ?? 'nest-dev-secret';
  }

  refreshSecret(): string {
    return this.config.get('JWT_REFRESH_SECRET', 'nest-dev-refresh');
  }
}
