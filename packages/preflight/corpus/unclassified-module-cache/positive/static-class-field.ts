export class ProfileService {
  static cache = new Map<string, object>();
  static async load(id: string): Promise<object> {
    const profile = await fetchProfile(id);
    ProfileService.cache.set(id, profile);
    return profile;
  }
}
app.get('/profiles/:id', async (req, res) => res.json(await ProfileService.load(req.params.id)));
