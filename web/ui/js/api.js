// The API client: the session token (kept in sessionStorage, so it survives
// a reload of this tab and dies with it), JSON calls, and the live event
// stream read with fetch (EventSource cannot send the bearer token).

const KEY = 'convoi.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  load() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
  },
  save(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(KEY); },
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export function token() { return session.load()?.token || ''; }

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    if (method === 'POST') headers['Idempotency-Key'] = crypto.randomUUID();
    init.body = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, init);
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* empty body */ }
  if (!res.ok) {
    const e = data?.error || {};
    if (res.status === 401 && path !== '/session') onUnauthorized();
    throw new ApiError(res.status, e.code || 'internal', e.message || res.statusText);
  }
  return data;
}

// list fetches every page of a collection (at most max items).
export async function list(path, max = 2000) {
  const items = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let offset = 0; offset < max;) {
    const page = await api('GET', `${path}${sep}offset=${offset}&limit=500`);
    items.push(...page.items);
    offset += page.items.length;
    if (page.items.length === 0 || offset >= page.total) break;
  }
  return items;
}

// stream calls onEvent(type, data) for each event of GET /api/v1/stream,
// reconnecting after a pause while signal is not aborted. onState(connected)
// reports the connection.
export async function stream(onEvent, onState, signal) {
  let backoff = 500;
  while (!signal.aborted) {
    try {
      const res = await fetch('/api/v1/stream', { headers: { Authorization: 'Bearer ' + token(), Accept: 'text/event-stream' }, signal });
      if (res.status === 401) { onUnauthorized(); return; }
      if (!res.ok) throw new Error('stream ' + res.status);
      onState(true);
      backoff = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let type = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (!data) continue;
          try { onEvent(type, JSON.parse(data)); } catch (e) { console.error('event', type, e); }
          if (type === 'closed') { onUnauthorized(); return; } // token revoked, expired or user changed
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    onState(false);
    await new Promise(r => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 10000);
  }
}
