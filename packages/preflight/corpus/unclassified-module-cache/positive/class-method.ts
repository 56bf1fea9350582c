const tenantSettings = new Map<string, object>();
export class SettingsService {
  update(tenant: string, value: object): void {
    tenantSettings.set(tenant, value);
  }
}
