// Bulk dismissal of the selected alerts: each is a first review of its own (claim, then dismiss with the one
// reason picked), so each can be refused on its own and is reported so, in words, by the caller.

/** Dismiss each alert with one reason: claim, then dismiss; a dismissal refused after the claim gives the
 * claim back. Resolves to one result per alert: {code, ok, step, error}. */
export async function dismissMany(api, alerts, { reason, text }, onProgress = () => {}, parallel = 3) {
  const results = [];
  const queue = [...alerts];
  let done = 0;
  const one = async (a) => {
    const code = a.clue_code;
    const path = `/api/alerts/${encodeURIComponent(code)}`;
    try {
      await api.post(`${path}/claim`);
    } catch (error) {
      return { code, ok: false, step: "claim", error };
    }
    try {
      const out = await api.post(`${path}/dismiss`, text ? { reason, text } : { reason });
      return { code, ok: true, alert: out && out.alert };
    } catch (error) {
      try {
        await api.post(`${path}/release`);
      } catch {
        // the lease runs out by itself
      }
      return { code, ok: false, step: "dismiss", error };
    }
  };
  const worker = async () => {
    while (queue.length) {
      const a = queue.shift();
      const r = await one(a);
      results.push(r);
      done += 1;
      onProgress(done, alerts.length, r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, alerts.length) }, worker));
  const rank = new Map(alerts.map((a, i) => [a.clue_code, i]));
  return results.sort((x, y) => rank.get(x.code) - rank.get(y.code));
}
