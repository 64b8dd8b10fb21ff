// convoi control room: sign in, then the screens the user's role is given.
// Every figure on screen comes from the API with the user's token; the API
// decides what each role sees (liaison never gets routes or departure
// times), and the screens only show what they were given.
import { api, list, session, stream, setUnauthorizedHandler, ApiError } from './api.js';

// The map module (and MapLibre, 1.7 MB) loads when a screen first shows a
// map, so the sign-in form and Today do not wait for it.
let mapModule = null;
const mapLib = async () => (mapModule ||= await import('./map.js'));

// ---- small DOM helpers (text is always set as text, never as HTML) ----
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (sel) => document.querySelector(sel);
const fmtTime = (t) => t ? new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false }) : '—';
const fmtDateTime = (t) => t ? new Date(t).toLocaleString([], { day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false }) : '—';
// The zone every time on screen is shown in (the browser's), named once in
// the header beside a clock, so that "08:30" is never ambiguous.
const zoneName = () => (new Intl.DateTimeFormat([], { timeZoneName: 'short' }).formatToParts(new Date())
  .find(p => p.type === 'timeZoneName') || {}).value || '';
function tickClock() {
  $('#clock').textContent = `${fmtTime(new Date())} ${zoneName()}`;
}
setInterval(tickClock, 10000);
const pct = (p) => (100 * p).toFixed(1) + ' %';
const sevName = ['info', 'warning', 'critical'];
const activeAlarm = (a) => a.state !== 'resolved';

// ---- roles and screens ----
const R = { admin: 'admin', planner: 'planner', control: 'control', commander: 'commander', auditor: 'auditor', crew: 'crew', liaison: 'liaison' };
const screens = [
  { id: 'today', title: 'Today', roles: [R.admin, R.planner, R.control, R.commander, R.auditor, R.crew], render: renderToday },
  { id: 'map', title: 'Live map', roles: [R.admin, R.planner, R.control, R.commander, R.auditor, R.crew], render: renderMap },
  { id: 'alarms', title: 'Alarms', roles: [R.control, R.commander, R.auditor], render: renderAlarms },
  { id: 'incidents', title: 'Incidents', roles: [R.control, R.commander, R.auditor], render: renderIncidents },
  { id: 'planning', title: 'Planning', roles: [R.planner], render: renderPlanning },
  { id: 'arrivals', title: 'Arrivals', roles: [R.liaison], render: renderArrivals },
  { id: 'movement', title: 'Movement', roles: [R.admin, R.planner, R.control, R.commander, R.auditor, R.crew], render: renderMovement, hidden: true },
];
const can = {
  devices: (r) => [R.admin, R.control, R.commander, R.auditor].includes(r),
  fleet: (r) => [R.admin, R.planner, R.control, R.commander, R.auditor].includes(r),
  alarms: (r) => [R.planner, R.control, R.commander, R.auditor, R.crew].includes(r),
  eta: (r) => ![R.liaison, R.admin].includes(r),
  actOnAlarms: (r) => [R.control, R.commander].includes(r),
  assessments: (r) => [R.planner, R.control, R.commander, R.auditor].includes(r),
  transitions: (r) => r !== R.liaison,
  policy: (r) => [R.admin, R.planner, R.auditor].includes(r),
  plans: (r) => [R.planner, R.commander, R.auditor].includes(r),
  detainees: (r) => [R.planner, R.control, R.commander, R.auditor].includes(r),
  incidents: (r) => [R.control, R.commander, R.auditor].includes(r),
  runIncidents: (r) => r === R.commander, // declare, assign and release units
  sight: (r) => [R.control, R.commander].includes(r),
};

// ---- state shared by the screens, kept current by the event stream ----
const state = {
  user: null,
  sites: new Map(), movements: new Map(), progress: new Map(), alarms: new Map(),
  vehicles: new Map(), trackers: new Map(), fleet: new Map(), officers: new Map(), detainees: new Map(),
  plans: new Map(), // movement id -> the plan this tab received (POST plan/release)
  streamUp: false, alarmsAvailable: false,
  listeners: new Set(), abort: null, screenCleanup: null,
};
window.convoi = state; // for operators' consoles and the browser tests

function changed(kind) { for (const fn of state.listeners) fn(kind); }

// ---- sign in / out ----
function showSignIn(message = '') {
  stopSession();
  $('#top').hidden = true;
  $('#screen').replaceChildren();
  $('#signin').hidden = false;
  $('#signin-error').textContent = message;
  $('#username').focus();
}

function stopSession() {
  state.abort?.abort();
  state.abort = null;
  state.screenCleanup?.();
  state.screenCleanup = null;
  for (const m of [state.sites, state.movements, state.progress, state.alarms, state.vehicles, state.trackers, state.fleet, state.officers, state.detainees, state.plans]) m.clear();
  state.listeners.clear();
  state.user = null;
}

async function signIn(ev) {
  ev.preventDefault();
  unlockAudio();
  const username = $('#username').value.trim(), password = $('#password').value;
  try {
    const res = await api('POST', '/session', { username, password });
    session.save({ token: res.token, expires_at: res.expires_at });
    $('#password').value = '';
    await start();
  } catch (e) {
    $('#signin-error').textContent = e instanceof ApiError && e.status === 401 ? 'Wrong user name or password.' : e.message;
  }
}

async function signOut() {
  try { await api('DELETE', '/session'); } catch { /* the token may be gone already */ }
  session.clear();
  location.hash = '';
  showSignIn('Signed out.');
}

// ---- start: who am I, the reference data, the stream ----
async function start() {
  if (!session.load()) return showSignIn();
  let me;
  try { me = await api('GET', '/me'); } catch { session.clear(); return showSignIn(); }
  state.user = me.user || me;
  $('#signin').hidden = true;
  $('#top').hidden = false;
  $('#who').textContent = `${state.user.name || state.user.username} · ${state.user.role}`;
  tickClock();
  const role = state.user.role;
  const loads = [
    list('/sites').then(s => s.forEach(x => state.sites.set(x.id, x))),
    loadMovements(),
  ];
  if (can.devices(role)) loads.push(list('/trackers').then(t => t.forEach(x => state.trackers.set(x.device_id, x))).catch(() => {}));
  if (can.fleet(role)) {
    loads.push(list('/vehicles').then(v => v.forEach(x => state.fleet.set(x.id, x))).catch(() => {}));
    loads.push(list('/officers').then(o => o.forEach(x => state.officers.set(x.id, x))).catch(() => {}));
  }
  if (can.alarms(role)) loads.push(loadAlarms());
  await Promise.all(loads);
  if (can.eta(role)) await loadETAs();
  state.abort = new AbortController();
  let connections = 0;
  stream(onEvent, async (up) => {
    state.streamUp = up;
    changed('stream');
    // After a reconnection, what changed meanwhile is read again.
    if (up && connections++ > 0) {
      await Promise.all([loadMovements(), can.alarms(role) ? loadAlarms() : null]).catch(() => {});
      changed('movement');
      changed('alarm');
    }
  }, state.abort.signal);
  renderNav();
  route();
}

async function loadMovements() {
  const ms = await list('/movements');
  state.movements.clear();
  ms.forEach(m => state.movements.set(m.id, m));
}

// loadETAs asks the monitor for the latest progress of the escorts on the
// road (GET /movements/{id}/eta); the stream's progress events follow.
async function loadETAs() {
  const live = [...state.movements.values()].filter(m => ['underway', 'incident'].includes(m.state));
  await Promise.all(live.map(async (m) => {
    try {
      const eta = await api('GET', `/movements/${m.id}/eta`);
      if (!eta?.expected_arrival) return;
      state.progress.set(m.id, { ...(eta.vehicles?.[0] || {}), movement_id: m.id, expected_arr: eta.expected_arrival, late_s: eta.late_s, deadline_s: eta.deadline_s });
    } catch { /* no monitor on this server */ }
  }));
}

async function loadAlarms() {
  try {
    const as = await list('/alarms');
    as.forEach(a => state.alarms.set(a.id, a));
    state.alarmsAvailable = true;
  } catch (e) {
    state.alarmsAvailable = false; // not on this server (404) or not for this role
  }
  updateAlarmCue(false);
}

function onEvent(type, ev) {
  switch (type) {
    case 'position': {
      const p = ev.position;
      const v = state.vehicles.get(p.device_id) || { device_id: p.device_id };
      v.pos = p;
      state.vehicles.set(p.device_id, v);
      changed('position');
      break;
    }
    case 'movement':
      state.movements.set(ev.movement.id, ev.movement);
      changed('movement');
      break;
    case 'progress':
      state.progress.set(ev.progress.movement_id, ev.progress);
      changed('progress');
      break;
    case 'alarm': {
      const a = ev.alarm;
      const old = state.alarms.get(a.id);
      state.alarms.set(a.id, a);
      state.alarmsAvailable = true;
      updateAlarmCue(!old && a.state === 'open');
      changed('alarm');
      break;
    }
    case 'assessment':
      changed('assessment');
      break;
    case 'incident':
      state.lastIncidentEvent = ev.incident;
      changed('incident');
      break;
  }
}

// ---- alarm cue and sound ----
let audio = null;
function unlockAudio() {
  try { audio ||= new AudioContext(); audio.resume(); } catch { /* no audio */ }
}
function beep(critical) {
  if (!audio) return;
  const t = audio.currentTime;
  for (let i = 0; i < (critical ? 3 : 1); i++) {
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = critical ? 880 : 660;
    g.gain.setValueAtTime(0.2, t + i * 0.3);
    g.gain.exponentialRampToValueAtTime(0.001, t + i * 0.3 + 0.25);
    o.connect(g).connect(audio.destination);
    o.start(t + i * 0.3);
    o.stop(t + i * 0.3 + 0.26);
  }
}
function updateAlarmCue(isNew) {
  const open = [...state.alarms.values()].filter(a => a.state === 'open');
  const cue = $('#alarm-cue');
  cue.hidden = open.length === 0;
  cue.textContent = open.length === 1 ? '1 open alarm' : `${open.length} open alarms`;
  document.title = (open.length ? `(${open.length}) ` : '') + 'convoi control room';
  const count = document.querySelector('#nav a[data-id="alarms"] .count');
  if (count) { count.textContent = String(open.length); count.hidden = open.length === 0; }
  if (isNew) beep(open.some(a => a.severity >= 2));
}

// ---- navigation ----
function renderNav() {
  const role = state.user.role;
  const nav = $('#nav');
  nav.replaceChildren(...screens.filter(s => !s.hidden && s.roles.includes(role)).map(s =>
    h('a', { href: '#/' + s.id, 'data-id': s.id }, s.title, s.id === 'alarms' ? h('span', { class: 'count', hidden: true }, '0') : null)));
  updateAlarmCue(false);
}

function route() {
  if (!state.user) return;
  const role = state.user.role;
  const [, id = '', arg = ''] = location.hash.split('/');
  let s = screens.find(x => x.id === id && x.roles.includes(role));
  if (!s) {
    s = screens.find(x => !x.hidden && x.roles.includes(role));
    if (!s) { $('#screen').replaceChildren(h('p', { class: 'page' }, 'No screen for the role ' + role + '.')); return; }
    history.replaceState(null, '', '#/' + s.id);
  }
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.id === s.id) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  state.screenCleanup?.();
  state.screenCleanup = null;
  state.listeners.clear();
  const root = h('div', { class: s.id === 'map' || (s.id === 'incidents' && arg) ? 'mapview' : 'page', id: 'screen-' + s.id });
  $('#screen').replaceChildren(root);
  Promise.resolve(s.render(root, decodeURIComponent(arg))).catch(e => root.append(h('p', { class: 'error', role: 'alert' }, e.message)));
}

function on(fn) { state.listeners.add(fn); }
function cleanup(fn) { const prev = state.screenCleanup; state.screenCleanup = () => { prev?.(); fn(); }; }

// ---- shared bits ----
const siteName = (id) => state.sites.get(id)?.name || '—';
function expectedArrival(m) {
  const p = state.progress.get(m.id);
  if (p?.expected_arr) return { at: p.expected_arr, live: true, p };
  if (m.planned_departure && m.route?.duration_s) return { at: new Date(new Date(m.planned_departure).getTime() + m.route.duration_s * 1000).toISOString() };
  return null;
}
function lateness(m) {
  const p = state.progress.get(m.id);
  if (!p) return '';
  if (p.deadline_s > 0) return `late ${Math.round(p.deadline_s / 60)} min`;
  if (p.late_s > 60) return `behind ${Math.round(p.late_s / 60)} min`;
  return 'on time';
}
function alarmBadges(m) {
  const as = [...state.alarms.values()].filter(a => a.movement_id === m.id && activeAlarm(a));
  if (!as.length) return '';
  const sev = Math.max(...as.map(a => a.severity));
  return h('span', { class: 'sev sev-' + sev, title: as.map(a => a.rule).join(', ') }, `${as.length} ${sevName[sev]}`);
}
const stateChip = (s) => h('span', { class: 'state ' + s }, s);

// ---- Today ----
function dayBounds(d) {
  const a = new Date(d); a.setHours(0, 0, 0, 0);
  const b = new Date(a); b.setDate(b.getDate() + 1);
  return [a, b];
}

function renderToday(root) {
  let day = new Date();
  const title = h('h1', {}, '');
  const table = h('table', { id: 'today-table' });
  const prev = h('button', { class: 'secondary', type: 'button', id: 'day-prev', onclick: () => { day.setDate(day.getDate() - 1); draw(); } }, '◀ Previous day');
  const next = h('button', { class: 'secondary', type: 'button', id: 'day-next', onclick: () => { day.setDate(day.getDate() + 1); draw(); } }, 'Next day ▶');
  const todayBtn = h('button', { class: 'secondary', type: 'button', id: 'day-today', onclick: () => { day = new Date(); draw(); } }, 'Today');
  const hint = h('p', { class: 'muted', id: 'today-next' });
  root.append(title, h('p', {}, prev, ' ', todayBtn, ' ', next), table, hint);
  function draw() {
    const [a, b] = dayBounds(day);
    title.textContent = 'Movements of ' + a.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
    const ms = [...state.movements.values()].filter(m => {
      const t = new Date(m.appointment_at);
      // Escorts still on the road show on today's list whatever their date.
      return (t >= a && t < b) || (['underway', 'incident'].includes(m.state) && sameDay(day, new Date()));
    }).sort((x, y) => new Date(x.appointment_at) - new Date(y.appointment_at));
    table.replaceChildren(
      h('thead', {}, h('tr', {}, ['Ref', 'From', 'To', 'Appointment', 'State', 'Level', 'Expected arrival', 'Lateness', 'Alarms'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ms.length ? ms.map(m => {
        const ea = expectedArrival(m);
        const late = lateness(m);
        return h('tr', {
          class: 'clickable', tabindex: 0, 'data-ref': m.ref,
          onclick: () => { location.hash = '#/movement/' + m.id; },
          onkeydown: (e) => { if (e.key === 'Enter') location.hash = '#/movement/' + m.id; },
        },
        h('td', {}, m.ref), h('td', {}, siteName(m.from_site_id)), h('td', {}, siteName(m.to_site_id)),
        h('td', {}, fmtTime(m.appointment_at)), h('td', {}, stateChip(m.state)),
        h('td', { class: 'level' }, m.escort_level ? String(m.escort_level) : '—'),
        h('td', {}, ea ? fmtTime(ea.at) + (ea.live ? ' (live)' : '') : '—'),
        h('td', { class: late.startsWith('late') || late.startsWith('behind') ? 'late' : '' }, late),
        h('td', {}, alarmBadges(m)));
      }) : h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No movement on this day.'))));
    // The next day with movements, when this one has none.
    const later = [...state.movements.values()].map(m => new Date(m.appointment_at)).filter(t => t >= b).sort((x, y) => x - y)[0];
    hint.replaceChildren(...(!ms.length && later ? ['Next movements: ', h('a', { href: '#/today', onclick: (e) => { e.preventDefault(); day = new Date(later); draw(); } },
      later.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' }))] : []));
  }
  const sameDay = (x, y) => x.toDateString() === y.toDateString();
  on((k) => { if (['movement', 'progress', 'alarm'].includes(k)) draw(); });
  draw();
}

// ---- Live map ----
async function renderMap(root) {
  const { createMap, setData, line, point, fitLines } = await mapLib();
  const mapEl = h('div', { class: 'map', id: 'map', role: 'region', 'aria-label': 'Map of escorts' });
  const status = h('p', { class: 'muted', id: 'stream-status' });
  const vlist = h('ul', { id: 'vehicle-list' });
  const mlist = h('ul', { id: 'escort-list' });
  const legend = h('p', { class: 'legend' },
    h('span', {}, h('i', { style: 'background:#0b5cad' }), 'corridor'),
    h('span', {}, h('i', { style: 'background:#d9601a' }), 'fast road'),
    h('span', {}, h('i', { style: 'background:#e0a400' }), 'main road'),
    h('span', {}, h('i', { style: 'background:#7b2cbf;height:8px;width:8px;border-radius:4px' }), 'toll'),
    h('span', {}, h('i', { style: 'background:#3a414b;height:8px;width:8px;border-radius:4px' }), 'tunnel'),
    h('span', {}, h('i', { style: 'background:#8a5a00;height:8px;width:8px;border-radius:4px' }), 'bridge'),
    h('span', {}, h('i', { style: 'background:#0b5cad;height:8px;width:8px;border-radius:4px' }), 'roundabout'),
    h('span', {}, h('i', { style: 'background:#d9601a;height:8px;width:8px;border-radius:4px' }), 'ramp'),
    h('span', {}, h('i', { style: 'background:#2f8f46;height:10px;width:10px;border-radius:5px' }), 'vehicle'),
    h('span', {}, h('i', { style: 'border:3px solid #b3001b;height:12px;width:12px;border-radius:6px;background:none' }), 'alarm'));
  root.append(mapEl, h('aside', {}, status, legend, h('h2', {}, 'Escorts underway'), mlist, h('h2', {}, 'Vehicles'), vlist));
  const map = await createMap(mapEl, ['corridors', 'sites', 'alarms', 'vehicles']);
  state.map = map;
  cleanup(() => { map.remove(); state.map = null; });

  setData(map, 'sites', [...state.sites.values()].map(s => point(s.location.lat, s.location.lon, { name: s.name, kind: s.kind })));
  // A tracker is on a vehicle (its registration) or carried by an officer
  // (their name); without the tracker list (crew), the device ID.
  const vehicleLabel = (dev) => {
    const t = state.trackers.get(dev);
    const v = t?.vehicle_id && state.fleet.get(t.vehicle_id);
    const o = t?.officer_id && state.officers.get(t.officer_id);
    return v ? v.registration : o ? o.name : dev;
  };
  const escortDevices = () => {
    const s = new Set();
    for (const m of state.movements.values()) {
      if (!['released', 'underway', 'incident'].includes(m.state)) continue;
      for (const t of state.trackers.values()) {
        if ((t.vehicle_id && (m.vehicles || []).includes(t.vehicle_id)) || (t.officer_id && (m.crew || []).includes(t.officer_id))) s.add(t.device_id);
      }
    }
    return s;
  };
  function drawCorridors() {
    const live = [...state.movements.values()].filter(m => ['released', 'underway', 'incident'].includes(m.state) && m.route?.geometry?.length);
    setData(map, 'corridors', live.map(m => line(m.route.geometry, { label: m.ref, colour: m.state === 'incident' ? '#b3001b' : '#0b5cad' })));
    mlist.replaceChildren(...(live.length ? live.map(m => {
      const p = state.progress.get(m.id);
      return h('li', {}, h('a', { href: '#/movement/' + m.id }, m.ref), ' ', stateChip(m.state), ' ', alarmBadges(m),
        h('div', { class: 'muted' }, `${siteName(m.from_site_id)} → ${siteName(m.to_site_id)}`),
        p ? h('div', {}, `${(p.along_m / 1000).toFixed(1)} / ${(p.route_m / 1000).toFixed(1)} km · ETA ${fmtTime(p.expected_arr)} · `, h('span', { class: p.deadline_s > 0 ? 'late' : '' }, lateness(m))) : null);
    }) : [h('li', { class: 'muted' }, 'None, or none you may see.')]));
  }
  function drawAlarms() {
    setData(map, 'alarms', [...state.alarms.values()].filter(activeAlarm).filter(a => a.place).map(a => point(a.place.lat, a.place.lon, { severity: a.severity, rule: a.rule })));
  }
  // Vehicles: positions arrive at any rate; the map is redrawn at most
  // every 250 ms (every second beyond 200 vehicles, the rate trackers
  // report at) and the list every second, so thousands of vehicles at 1 Hz
  // keep the map interactive.
  let dirty = true, lastMap = 0, lastList = 0, raf = 0;
  function frame(t) {
    raf = requestAnimationFrame(frame);
    if (!dirty || t - lastMap < (state.vehicles.size > 200 ? 1000 : 250)) return;
    lastMap = t;
    const esc = escortDevices();
    const few = state.vehicles.size <= 200;
    const feats = [];
    for (const v of state.vehicles.values()) {
      const escort = esc.has(v.device_id);
      feats.push(point(v.pos.lat, v.pos.lon, { label: vehicleLabel(v.device_id), escort, labelled: escort || few, device: v.device_id }));
    }
    setData(map, 'vehicles', feats);
    if (t - lastList >= 1000) {
      lastList = t;
      dirty = false;
      const vs = [...state.vehicles.values()].sort((a, b) => new Date(b.pos.fix_time) - new Date(a.pos.fix_time)).slice(0, 50);
      vlist.replaceChildren(...(vs.length ? vs.map(v => h('li', { 'data-device': v.device_id },
        h('strong', {}, vehicleLabel(v.device_id)), ' ',
        h('span', { class: 'pos' }, `${v.pos.lat.toFixed(5)}, ${v.pos.lon.toFixed(5)}`),
        h('div', { class: 'muted' }, `${Math.round(v.pos.speed_kmh)} km/h · ${fmtTime(v.pos.fix_time)}`))) : [h('li', { class: 'muted' }, 'No position received yet.')]));
      if (state.vehicles.size > 50) vlist.append(h('li', { class: 'muted' }, `and ${state.vehicles.size - 50} more on the map`));
    }
  }
  raf = requestAnimationFrame(frame);
  cleanup(() => cancelAnimationFrame(raf));
  const drawStatus = () => { status.textContent = state.streamUp ? 'Live: connected' : 'Live: reconnecting…'; };
  on((k) => {
    if (k === 'position') dirty = true;
    if (k === 'movement' || k === 'progress') { drawCorridors(); dirty = true; }
    if (k === 'alarm') { drawAlarms(); drawCorridors(); }
    if (k === 'stream') drawStatus();
  });
  drawStatus();
  drawCorridors();
  drawAlarms();
  const routes = [...state.movements.values()].filter(m => ['released', 'underway', 'incident'].includes(m.state) && m.route?.geometry?.length).map(m => m.route.geometry);
  if (routes.length) fitLines(map, routes);
  mapEl.dataset.ready = 'true';
}

// ---- Alarm queue ----
function renderAlarms(root) {
  const ul = h('ul', { class: 'alarms', id: 'alarm-list', role: 'listbox', 'aria-label': 'Alarms, most severe and newest first' });
  const showResolved = h('input', { type: 'checkbox', id: 'show-resolved', onchange: () => draw() });
  root.append(h('h1', {}, 'Alarm queue'),
    h('p', { class: 'muted' }, 'Keys: ↑/↓ select · a acknowledge · e escalate · r resolve' + (can.runIncidents(state.user.role) ? ' · i declare an incident' : '') + ' · the note field takes the text of the step.'),
    h('label', {}, showResolved, ' show resolved'), ul);
  if (!state.alarmsAvailable) ul.before(h('p', { class: 'muted', id: 'alarms-unavailable' }, 'The alarm service is not available on this server.'));
  let selected = null;
  // Notes being written, by alarm: the list redraws on every alarm update
  // (an escort under attack sends many), which must not lose the text.
  const drafts = new Map();
  const act = async (a, step, note, resolution) => {
    const body = { note };
    if (step === 'resolve') body.resolution = resolution;
    try {
      const res = await api('POST', `/alarms/${a.id}/${step}`, body);
      const upd = res.alarm || res;
      if (upd?.id) state.alarms.set(upd.id, upd);
      drafts.delete(a.id);
      updateAlarmCue(false);
      changed('alarm');
    } catch (e) { alert(e.message); }
  };
  function draw() {
    const as = [...state.alarms.values()].filter(a => showResolved.checked || activeAlarm(a))
      .sort((x, y) => (y.severity - x.severity) || (new Date(y.last_seen) - new Date(x.last_seen)));
    if (selected && !as.some(a => a.id === selected)) selected = null;
    const active = document.activeElement;
    const focusedId = active?.closest?.('li[data-alarm]')?.dataset.alarm;
    const inNote = active?.tagName === 'TEXTAREA' ? [active.selectionStart, active.selectionEnd] : null;
    ul.replaceChildren(...(as.length ? as.map(a => {
      const m = state.movements.get(a.movement_id);
      const note = h('textarea', { 'aria-label': 'Note for ' + a.rule + ' alarm', placeholder: 'Note (required to resolve)',
        oninput: () => drafts.set(a.id, note.value) });
      note.value = drafts.get(a.id) || '';
      const res = h('select', { 'aria-label': 'Resolution' }, ['handled', 'false_alarm', 'incident_declared'].map(r => h('option', { value: r }, r.replace('_', ' '))));
      const mayAct = can.actOnAlarms(state.user.role);
      const li = h('li', {
        class: `sev-border-${a.severity}` + (a.id === selected ? ' selected' : ''), tabindex: 0, role: 'option',
        'aria-selected': a.id === selected ? 'true' : 'false', 'data-alarm': a.id, 'data-state': a.state,
        onfocus: () => { selected = a.id; },
        onkeydown: (e) => {
          if (e.target.tagName === 'TEXTAREA' || e.target.tagName === 'SELECT') return;
          if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
            e.preventDefault();
            const sib = e.key === 'ArrowDown' ? li.nextElementSibling : li.previousElementSibling;
            sib?.focus();
          } else if (mayAct && e.key === 'a' && a.state === 'open') act(a, 'acknowledge', note.value);
          else if (mayAct && e.key === 'e' && ['open', 'acknowledged'].includes(a.state)) act(a, 'escalate', note.value);
          else if (mayAct && e.key === 'r') note.focus();
          else if (mayAct && e.key === 'i' && can.runIncidents(state.user.role) && a.state !== 'resolved') declareFromAlarm(a, note.value);
        },
      },
      h('div', { class: 'row' },
        h('span', { class: 'sev sev-' + a.severity }, sevName[a.severity] || a.severity),
        h('strong', {}, a.rule), m ? h('a', { href: '#/movement/' + m.id }, m.ref) : null,
        h('span', { class: 'state alarm-state' }, a.state + (a.state !== 'open' && a.updated_at ? ' ' + fmtTime(a.updated_at) : '') + (a.resolution ? ` (${a.resolution.replaceAll('_', ' ')})` : '')),
        a.place_name ? h('span', {}, '@ ' + a.place_name) : null,
        h('span', { class: 'muted' }, `first ${fmtTime(a.first_seen)}, last ${fmtTime(a.last_seen)}` + (a.count > 1 ? ` · ×${a.count}` : '')),
        a.state === 'open' && a.ack_due ? h('span', { class: 'countdown', 'data-due': a.ack_due }, '') : null),
      h('div', {}, a.detail),
      mayAct && a.state !== 'resolved' ? h('div', { class: 'actions' }, note,
        a.state === 'open' ? h('button', { type: 'button', onclick: () => act(a, 'acknowledge', note.value) }, 'Acknowledge') : null,
        ['open', 'acknowledged'].includes(a.state) ? h('button', { type: 'button', class: 'secondary', onclick: () => act(a, 'escalate', note.value) }, 'Escalate') : null,
        res, h('button', { type: 'button', class: 'secondary', onclick: () => act(a, 'resolve', note.value, res.value) }, 'Resolve'),
        can.runIncidents(state.user.role) ? h('button', { type: 'button', class: 'danger declare', onclick: () => declareFromAlarm(a, note.value) }, 'Declare incident') : null) : null);
      return li;
    }) : [h('li', { class: 'muted' }, 'No alarm.')]));
    if (focusedId) {
      const li = ul.querySelector(`li[data-alarm="${CSS.escape(focusedId)}"]`);
      const ta = inNote && li?.querySelector('textarea');
      if (ta) { ta.focus(); ta.setSelectionRange(...inNote); } else li?.focus();
    }
    tick();
  }
  function tick() {
    for (const el of ul.querySelectorAll('.countdown')) {
      const s = Math.round((new Date(el.dataset.due) - Date.now()) / 1000);
      el.classList.toggle('overdue', s <= 0);
      el.textContent = s > 0 ? `escalates in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : 'acknowledgement overdue';
    }
  }
  const timer = setInterval(tick, 1000);
  cleanup(() => clearInterval(timer));
  on((k) => { if (k === 'alarm' || k === 'movement') draw(); });
  draw();
}

// ---- Movement ----
async function renderMovement(root, id) {
  const { createMap, setData, line, point, fitLines } = await mapLib();
  const role = state.user.role;
  let m;
  try { m = await api('GET', '/movements/' + encodeURIComponent(id)); } catch (e) { root.append(h('p', { class: 'error' }, e.message)); return; }
  state.movements.set(m.id, m);
  root.append(h('h1', {}, `Movement ${m.ref}`),
    h('p', {}, stateChip(m.state), ' ', `${siteName(m.from_site_id)} → ${siteName(m.to_site_id)} · ${m.purpose.replace('_', ' ')} · appointment ${fmtDateTime(m.appointment_at)}`,
      m.escort_level ? ` · escort level ${m.escort_level}` : '',
      m.planned_departure ? ` · departure ${fmtDateTime(m.planned_departure)}` : ''));
  const grid = h('div', { class: 'grid2' });
  root.append(grid);
  const assessCard = h('div', { class: 'card', id: 'assessment' }, h('h2', {}, 'Risk assessment'));
  const strategyCard = h('div', { class: 'card', id: 'strategy' }, h('h2', {}, 'Route and departure strategy'));
  grid.append(assessCard, strategyCard);
  if (can.assessments(role)) {
    try {
      const as = await list('/movements/' + m.id + '/assessments', 1);
      if (as.length) drawAssessment(assessCard, as[0]);
      else assessCard.append(h('p', { class: 'muted' }, 'Not assessed yet.'));
    } catch (e) { assessCard.append(h('p', { class: 'error' }, e.message)); }
  } else assessCard.append(h('p', { class: 'muted' }, 'Assessments are not shown to the ' + role + ' role.'));
  let plan = state.plans.get(m.id);
  if (!plan && can.plans(role)) {
    try { plan = (await list('/movements/' + m.id + '/plans', 1))[0]; } catch (e) { strategyCard.append(h('p', { class: 'error' }, e.message)); }
  }
  if (plan) await drawStrategy(strategyCard, plan, m);
  else if (m.route?.geometry?.length) {
    strategyCard.append(h('p', {}, `Drawn route: ${(m.route.distance_m / 1000).toFixed(1)} km, ${Math.round(m.route.duration_s / 60)} min` + (m.route.chokepoints?.length ? ` · chokepoints: ${chokepointSummary(m.route.chokepoints)}` : '')));
    const el = h('div', { class: 'smallmap' });
    strategyCard.append(el);
    const map = await createMap(el, ['corridors']);
    cleanup(() => map.remove());
    setData(map, 'corridors', [line(m.route.geometry, { label: m.ref })]);
    fitLines(map, [m.route.geometry]);
  } else strategyCard.append(h('p', { class: 'muted' }, can.plans(role) ? 'Not planned yet.' : 'The strategy is shown to planners, commanders and auditors; the drawn route shows here once released.'));
  if (can.transitions(role)) {
    try {
      const ts = await list('/movements/' + m.id + '/transitions');
      root.append(h('h2', {}, 'History'), h('table', { id: 'history' },
        h('thead', {}, h('tr', {}, ['When', 'Action', 'From', 'To', 'By', 'Reason'].map(c => h('th', {}, c)))),
        h('tbody', {}, ts.map(t => h('tr', {}, h('td', {}, fmtDateTime(t.at)), h('td', {}, t.action), h('td', {}, t.from), h('td', {}, t.to), h('td', {}, t.by), h('td', {}, t.reason || ''))))));
    } catch (e) { root.append(h('p', { class: 'error' }, e.message)); }
  }
}

async function drawAssessment(card, a) {
  const maxPts = Math.max(1e-9, ...a.factors.map(f => Math.abs(f.points)));
  card.append(
    h('p', {}, h('strong', {}, `Level ${a.level}`), ` (${a.level_meaning}) · score ${a.score.toFixed(2)} · policy ${a.policy_version} · ${fmtDateTime(a.assessed_at)}`),
    h('p', {}, `Escort: at least ${a.min_crew} officers, ${a.vehicle_class} vehicle` + (a.armed_support ? ', armed support' : '') + (a.must_not_stop ? ', must not stop' : '') + (a.recommendation ? ` · recommendation: ${a.recommendation}` : '')),
    h('div', { class: 'bars', id: 'factor-bars', role: 'list', 'aria-label': 'Risk factors by points' },
      [...a.factors].sort((x, y) => y.points - x.points).map(f => h('div', { class: 'bar', role: 'listitem', title: (f.evidence || []).join('; ') },
        h('span', {}, f.label), h('span', { class: 'track' }, h('span', { class: 'fill', style: `display:block;width:${(100 * Math.abs(f.points) / maxPts).toFixed(1)}%` })),
        h('span', {}, f.points.toFixed(2))))));
  if (can.policy(state.user.role)) {
    try {
      const p = await api('GET', '/policies/risk');
      const body = p.body || p;
      const th = body.thresholds || body.levels || [];
      card.append(h('p', { class: 'muted' }, `Policy in force: ${p.name || 'risk'} version ${p.version}. The level is the highest whose minimum score the movement reaches:`),
        h('table', { id: 'policy-levels' }, h('thead', {}, h('tr', {}, ['Level', 'From score', 'Escort'].map(c => h('th', {}, c)))),
          h('tbody', {}, th.map(l => h('tr', { class: l.level === a.level ? 'current' : '' }, h('td', { class: 'level' }, l.level), h('td', {}, l.min_score), h('td', {}, l.meaning))))));
    } catch { /* not for this role */ }
  }
}

// chokepointSummary counts a route's chokepoints by kind ("tunnel Tunnel
// de la Colle" counts as a tunnel).
function chokepointSummary(cps) {
  const n = new Map();
  for (const c of cps) { const k = c.split(' ')[0].replace('_', ' '); n.set(k, (n.get(k) || 0) + 1); }
  return [...n].map(([k, v]) => `${v} ${k}${v > 1 && !k.endsWith('s') ? 's' : ''}`).join(', ');
}

const routeColours = ['#0b5cad', '#d9601a', '#2f8f46', '#7b2cbf', '#8a5a00', '#b3001b'];
async function drawStrategy(card, plan, m) {
  const { createMap, setData, line, point, fitLines } = await mapLib();
  const s = typeof plan.strategy === 'string' ? JSON.parse(plan.strategy) : plan.strategy;
  const routes = s.routes || [], sums = s.route_summaries || [];
  if (plan.draw) card.append(h('p', { id: 'plan-draw' }, h('strong', {}, `Drawn at release: route ${plan.draw.route_index + 1}, departure ${fmtDateTime(plan.draw.departure)}`)));
  card.append(h('p', { class: 'compare', id: 'hit-compare' },
    'Attacker\'s best hit probability: ', h('strong', {}, pct(s.value ?? plan.value)),
    s.fixed_fastest ? ` · always the fastest route at the usual time: ${pct(s.fixed_fastest.value)}` : ''));
  // A plan solved within the planner's time limit, not to the equilibrium:
  // its guarantee and the certified bound bracket the best possible.
  if (s.converged === false) card.append(h('p', { id: 'plan-bound' },
    `Planned within the time limit: no strategy can do better than ${pct(s.lower_bound || 0)} (certified); this one guarantees ${pct(s.value)}.`));
  const el = h('div', { class: 'smallmap', id: 'strategy-map' });
  card.append(el, h('ul', { id: 'route-list' }, routes.map((r, i) => h('li', {},
    h('span', { style: `color:${routeColours[i % routeColours.length]};font-weight:700` }, `Route ${i + 1}: ${pct(r.probability)}`),
    ` · ${Math.round(r.duration_s / 60)} min` + (sums[i]?.chokepoints?.length ? ` · ${chokepointSummary(sums[i].chokepoints)}` : '')))));
  const deps = s.departures || [];
  const maxP = Math.max(1e-9, ...deps.map(d => d.probability));
  card.append(h('h2', {}, 'Departure distribution'),
    h('div', { class: 'chart', id: 'departure-chart', role: 'img', 'aria-label': 'Departure time probabilities' },
      deps.map(d => h('div', { style: `height:${(100 * d.probability / maxP).toFixed(1)}%`, title: `${d.at ? fmtTime(d.at) : d.slot}: ${pct(d.probability)}` }))),
    h('div', { class: 'chart-labels' }, deps.map(d => h('span', {}, d.at ? fmtTime(d.at) : String(d.slot)))));
  const map = await createMap(el, ['corridors']);
  state.strategyMap = map;
  cleanup(() => { map.remove(); state.strategyMap = null; });
  const geoms = sums.map(x => x.geometry || []);
  setData(map, 'corridors', geoms.map((g, i) => line(g, { colour: routeColours[i % routeColours.length], opacity: 0.35 + 0.6 * (routes[i]?.probability || 0), label: `${i + 1}: ${pct(routes[i]?.probability || 0)}` })));
  fitLines(map, geoms);
}

// ---- Incidents: the commander's response to an attack ----
// declareFromAlarm declares an incident from an alarm (the API resolves
// the alarm as incident_declared) and opens it.
async function declareFromAlarm(a, note) {
  try {
    const inc = await api('POST', '/incidents', { alarm_id: a.id, note: note || `Declared from alarm ${a.id} (${a.rule})` });
    location.hash = '#/incidents/' + inc.id;
  } catch (e) { alert(e.message); }
}

const toLocalInput = (d) => { const x = new Date(d); x.setMinutes(x.getMinutes() - x.getTimezoneOffset()); return x.toISOString().slice(0, 16); };
const mmss = (s) => { const r = Math.round(s); return `${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s`; };

function renderIncidents(root, id) {
  if (id) return renderIncident(root, id);
  const role = state.user.role;
  const table = h('table', { id: 'incident-table' });
  const err = h('p', { class: 'error', role: 'alert' });
  root.append(h('h1', {}, 'Incidents'), table, err);
  async function draw() {
    let incs;
    try { incs = await list('/incidents'); } catch (e) { err.textContent = e.message; return; }
    table.replaceChildren(
      h('thead', {}, h('tr', {}, ['Incident', 'State', 'Place', 'Attack', 'Movement', 'Vehicles sought', 'Version'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, incs.length ? incs.map(i => h('tr', {
        class: 'clickable', tabindex: 0, 'data-incident': i.id,
        onclick: () => { location.hash = '#/incidents/' + i.id; },
        onkeydown: (e) => { if (e.key === 'Enter') location.hash = '#/incidents/' + i.id; },
      },
      h('td', {}, h('a', { href: '#/incidents/' + i.id }, '#' + i.id)), h('td', {}, stateChip(i.state)),
      h('td', {}, i.place_name || `${i.place.lat.toFixed(5)}, ${i.place.lon.toFixed(5)}`), h('td', {}, fmtDateTime(i.attack_at)),
      h('td', {}, i.movement_id ? (state.movements.get(i.movement_id)?.ref || '#' + i.movement_id) : '—'),
      h('td', {}, (i.vehicles_sought || []).join('; ')), h('td', {}, String(i.version)))) :
        h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No incident.'))));
  }
  if (can.runIncidents(role)) {
    // Declaring by hand: the attack point is clicked on the map or typed.
    const f = {
      lat: h('input', { name: 'lat', type: 'number', step: 'any', required: true, min: -90, max: 90 }),
      lon: h('input', { name: 'lon', type: 'number', step: 'any', required: true, min: -180, max: 180 }),
      place: h('input', { name: 'place_name', placeholder: 'e.g. Boulevard du Larvotto' }),
      at: h('input', { name: 'attack_at', type: 'datetime-local', required: true, value: toLocalInput(new Date()) }),
      vehicles: h('input', { name: 'vehicles', placeholder: 'e.g. dark grey Audi A6, AB-123-CD; …' }),
      instructions: h('input', { name: 'instructions', placeholder: 'instructions to partner forces' }),
    };
    const mapEl = h('div', { class: 'smallmap', id: 'declare-map', role: 'region', 'aria-label': 'Click the attack point' });
    const form = h('form', { class: 'stack', id: 'declare-form', onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        const inc = await api('POST', '/incidents', {
          place: { lat: Number(f.lat.value), lon: Number(f.lon.value) }, place_name: f.place.value.trim(),
          attack_at: new Date(f.at.value).toISOString(), instructions: f.instructions.value.trim(),
          vehicles_sought: f.vehicles.value.split(';').map(x => x.trim()).filter(Boolean),
        });
        location.hash = '#/incidents/' + inc.id;
      } catch (e2) { err.textContent = e2.message; }
    } },
    h('label', {}, 'Latitude', f.lat), h('label', {}, 'Longitude', f.lon), h('label', {}, 'Place', f.place),
    h('label', {}, 'Attack at', f.at), h('label', {}, 'Vehicles sought (; between)', f.vehicles), h('label', {}, 'Instructions', f.instructions),
    h('button', { type: 'submit', class: 'danger' }, 'Declare incident'));
    root.append(h('h2', {}, 'Declare an incident by hand'),
      h('p', { class: 'muted' }, 'To declare from an alarm, use Declare incident in the alarm queue. Here: click the attack point on the map (or type it).'),
      form, mapEl);
    mapLib().then(async ({ createMap, setData, point }) => {
      const map = await createMap(mapEl, ['sightings']);
      cleanup(() => map.remove());
      map.on('click', (e) => {
        f.lat.value = e.lngLat.lat.toFixed(6); f.lon.value = e.lngLat.lng.toFixed(6);
        setData(map, 'sightings', [point(e.lngLat.lat, e.lngLat.lng, { attack: true, label: 'attack' })]);
      });
    }).catch(e => { mapEl.replaceWith(h('p', { class: 'error' }, e.message)); });
  }
  on((k) => { if (k === 'incident') draw(); });
  return draw();
}

async function renderIncident(root, id) {
  const { createMap, setData, point, fitFeatures, reachColours } = await mapLib();
  const role = state.user.role;
  const path = '/incidents/' + encodeURIComponent(id);
  const mapEl = h('div', { class: 'map', id: 'incident-map', role: 'region', 'aria-label': 'Incident map: reachability, escape routes, units and roadblocks' });
  const head = h('div', { id: 'incident-head' });
  const summary = h('div', { id: 'incident-summary', role: 'status', 'aria-live': 'polite' });
  const bands = h('table', { id: 'reach-table' });
  const units = h('table', { id: 'unit-table' });
  const sightList = h('ul', { id: 'sighting-list' });
  const err = h('p', { class: 'error', role: 'alert', id: 'incident-error' });
  const legend = h('p', { class: 'legend' },
    ...[5, 10, 15, 20].map(m => h('span', {}, h('i', { style: `background:${reachColours[m]};opacity:.6` }), `${m} min`)),
    h('span', {}, h('i', { style: 'background:#b3001b;opacity:.4' }), 'escape route'),
    h('span', {}, h('i', { style: 'background:#0b5cad;opacity:.4' }), 'route cut'),
    h('span', {}, h('i', { style: 'border:2px solid #0b2e57;height:10px;width:10px;border-radius:5px;background:#fff' }), 'unit'),
    h('span', {}, h('i', { style: 'background:#0b5cad;height:12px;width:12px;border-radius:6px' }), 'roadblock'),
    h('span', {}, h('i', { style: 'background:#7b2cbf;height:10px;width:10px;border-radius:5px' }), 'sighting'));
  const aside = h('aside', { id: 'incident-panel' }, h('p', {}, h('a', { href: '#/incidents' }, '← Incidents')), head, err, summary, legend,
    h('h2', {}, 'Reachability'), bands, h('h2', {}, 'Units and roadblocks'), units);
  root.append(mapEl, aside);

  let inc = null, plan = null, pending = null, mayWrite = false;
  // The sighting form (control and commander): click the map to place it.
  const sf = {
    lat: h('input', { id: 'sighting-lat', type: 'number', step: 'any', required: true }),
    lon: h('input', { id: 'sighting-lon', type: 'number', step: 'any', required: true }),
    place: h('input', { id: 'sighting-place', placeholder: 'e.g. Basse Corniche' }),
    time: h('input', { id: 'sighting-time', type: 'datetime-local', required: true }),
    conf: h('input', { id: 'sighting-confidence', type: 'number', min: 0.05, max: 1, step: 0.05, value: 1, required: true }),
    note: h('input', { id: 'sighting-note', placeholder: 'who saw what' }),
  };
  // The time field has minutes: a sighting "now" is sent with the seconds.
  let timeEdited = false;
  sf.time.addEventListener('input', () => { timeEdited = true; });
  const seenAt = () => {
    const t = new Date(sf.time.value), now = new Date();
    return now - t >= 0 && now - t < 60000 ? now : t;
  };
  const sightForm = h('form', { class: 'side-form', id: 'sighting-form', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      const res = await api('POST', path + '/sightings', {
        place: { lat: Number(sf.lat.value), lon: Number(sf.lon.value) }, place_name: sf.place.value.trim(),
        time: seenAt().toISOString(), confidence: Number(sf.conf.value), note: sf.note.value.trim(),
      });
      pending = null; timeEdited = false;
      sf.place.value = ''; sf.note.value = ''; sf.time.value = '';
      if (res.plan_error) err.textContent = 'No plan: ' + res.plan_error;
      await load();
    } catch (e2) { err.textContent = e2.message; }
  } },
  h('div', { class: 'pair' }, h('label', {}, 'Latitude', sf.lat), h('label', {}, 'Longitude', sf.lon)),
  h('label', {}, 'Place', sf.place), h('div', { class: 'pair' }, h('label', {}, 'Seen at', sf.time), h('label', {}, 'Confidence', sf.conf)),
  h('label', {}, 'Note', sf.note), h('button', { type: 'submit' }, 'Record sighting and re-plan'));
  if (can.sight(role)) aside.append(h('h2', {}, 'Record a sighting'), h('p', { class: 'muted' }, 'Click the map to place it, or type the position.'), sightForm);
  aside.append(h('h2', {}, 'Sightings'), sightList);

  const map = await createMap(mapEl, ['reach', 'escapes', 'units', 'sightings']);
  state.incidentMap = map;
  cleanup(() => { map.remove(); state.incidentMap = null; });
  if (can.sight(role)) {
    map.on('click', (e) => {
      sf.lat.value = e.lngLat.lat.toFixed(6); sf.lon.value = e.lngLat.lng.toFixed(6);
      if (!timeEdited) sf.time.value = toLocalInput(new Date());
      pending = { lat: e.lngLat.lat, lon: e.lngLat.lng };
      drawSightings();
      sf.place.focus();
    });
  }

  function drawSightings() {
    const feats = [];
    if (inc) feats.push(point(inc.place.lat, inc.place.lon, { attack: true, label: 'attack ' + fmtTime(inc.attack_at) }));
    for (const s of inc?.sightings || []) feats.push(point(s.place.lat, s.place.lon, { label: `${fmtTime(s.time)} (${Math.round(100 * s.confidence)} %)` }));
    if (pending) feats.push(point(pending.lat, pending.lon, { pending: true, label: 'new sighting' }));
    setData(map, 'sightings', feats);
  }

  async function unitStep(u, step) {
    err.textContent = '';
    try { await api('POST', `${path}/units/${u.site_id}/${step}`, {}); await load(); } catch (e) { err.textContent = `${u.name}: ${e.message}`; }
  }

  function drawPlan() {
    const byUnit = new Map((plan?.assignments || []).map(a => [a.unit_id, a]));
    summary.dataset.version = plan ? String(plan.version) : '';
    summary.dataset.fraction = plan ? String(plan.fraction) : '';
    summary.replaceChildren(...(plan ? [
      h('p', { class: 'figure' }, h('strong', { id: 'plan-fraction' }, pct(plan.fraction)), ' of the escape routes intercepted'),
      h('p', {}, `${plan.intercepted} of ${plan.routes} routes · `, plan.optimal ? h('span', { class: 'state released', id: 'plan-optimal' }, 'proven optimal')
        : h('span', { class: 'state aborted', id: 'plan-optimal' }, `best found, bound ${pct(plan.bound)}`),
      ` · ${plan.elapsed_ms.toFixed(0)} ms`),
      h('p', { class: 'muted' }, `Routes sampled ${plan.routes_sampled}, kept after the sightings ${plan.routes_kept}, added from the latest ${plan.routes_added} · plan of version ${plan.version}, ${fmtTime(plan.at)}`),
    ] : [h('p', { class: 'muted' }, 'No plan.')]));
    units.replaceChildren(
      h('thead', {}, h('tr', {}, ['Unit', 'Roadblock', ''].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, (plan?.units || []).map(u => {
        const a = byUnit.get(String(u.site_id));
        return h('tr', { 'data-unit': u.site_id, class: u.assigned ? 'current' : '' },
          h('td', {}, h('strong', {}, u.name), h('div', { class: 'muted' }, `${u.source === 'tracker' ? 'tracker ' + fmtTime(u.fix_time) : 'at the post'}${u.assigned ? ' · assigned' : ''}`)),
          h('td', {}, !a ? '—' : a.reserve ? 'reserve: nothing left to cut in time, stays put' : [
            h('div', { class: 'share' }, h('strong', {}, `cuts ${pct(a.share)}`), ` (${a.routes_cut} routes)`),
            h('div', {}, `in place ${fmtTime(a.arrival)} (${mmss(a.arrival_s)})`),
            h('div', { class: 'muted' }, `node ${a.node}`)]),
          h('td', {}, mayWrite ? (u.assigned
            ? h('button', { type: 'button', class: 'secondary', onclick: () => unitStep(u, 'release') }, 'Release')
            : h('button', { type: 'button', onclick: () => unitStep(u, 'assign') }, 'Assign')) : ''));
      })));
    const feats = [];
    for (const u of plan?.units || []) {
      const a = byUnit.get(String(u.site_id));
      feats.push(point(u.at.lat, u.at.lon, { kind: 'unit', assigned: !!u.assigned, label: u.name }));
      if (a && !a.reserve) {
        feats.push({ type: 'Feature', properties: { kind: 'link' }, geometry: { type: 'LineString', coordinates: [[u.at.lon, u.at.lat], [a.at.lon, a.at.lat]] } });
        feats.push(point(a.at.lat, a.at.lon, { kind: 'roadblock', label: `${fmtTime(a.arrival)} · ${pct(a.share)}` }));
      }
    }
    setData(map, 'units', feats);
    setData(map, 'escapes', (plan?.route_lines || []).map(r => ({ type: 'Feature', properties: { cut: r.cut }, geometry: { type: 'LineString', coordinates: r.points.map(p => [p.lon, p.lat]) } })));
  }

  let first = true, seq = 0;
  async function load() {
    const my = ++seq;
    let reach = null;
    const [i, r, p] = await Promise.allSettled([api('GET', path), api('GET', path + '/reachability?format=geojson'), api('GET', path + '/plan?routes=150')]);
    if (my !== seq) return; // a newer load started
    if (i.status === 'rejected') { err.textContent = i.reason.message; return; }
    inc = i.value;
    mayWrite = can.runIncidents(role) && inc.state === 'active';
    const m = inc.movement_id && state.movements.get(inc.movement_id);
    head.replaceChildren(h('h1', {}, `Incident #${inc.id}`),
      h('p', {}, stateChip(inc.state), ' ', inc.place_name || '', ` · attack ${fmtDateTime(inc.attack_at)}`,
        m ? [' · ', h('a', { href: '#/movement/' + m.id }, m.ref)] : '', ` · version ${inc.version}`),
      (inc.vehicles_sought || []).length ? h('p', {}, 'Sought: ' + inc.vehicles_sought.join('; ')) : '',
      inc.instructions ? h('p', { class: 'muted' }, inc.instructions) : '',
      h('p', {}, h('button', { type: 'button', class: 'secondary', id: 'cap-alert', onclick: openAlert }, 'CAP alert'),
        mayWrite ? [' ', h('button', { type: 'button', class: 'secondary', id: 'close-incident', onclick: closeIncident }, 'Close incident')] : ''));
    sightForm.hidden = inc.state !== 'active';
    if (!sf.time.value) sf.time.value = toLocalInput(new Date());
    sightList.replaceChildren(...((inc.sightings || []).length ? [...inc.sightings].reverse().map(s => h('li', {},
      h('strong', {}, fmtTime(s.time)), ` ${s.place_name || `${s.place.lat.toFixed(5)}, ${s.place.lon.toFixed(5)}`} · confidence ${Math.round(100 * s.confidence)} %`,
      s.note ? h('div', { class: 'muted' }, s.note) : '')) : [h('li', { class: 'muted' }, 'No sighting yet.')]));
    if (r.status === 'fulfilled') {
      reach = r.value;
      setData(map, 'reach', reach.features);
      const from = reach.features.find(f => f.properties.kind === 'from');
      bands.replaceChildren(
        h('caption', { class: 'muted' }, from ? `From ${from.properties.label}, ${fmtTime(from.properties.since)}` : ''),
        h('thead', {}, h('tr', {}, ['Within', 'Area'].map(c => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, reach.features.filter(f => f.properties.kind === 'reachability').reverse().map(f => h('tr', { 'data-minutes': f.properties.minutes },
          h('td', {}, h('i', { class: 'swatch', style: `background:${reachColours[f.properties.minutes] || '#888'}` }), ` ${f.properties.minutes} min`),
          h('td', {}, `${f.properties.area_km2.toFixed(2)} km²`)))));
    } else bands.replaceChildren(h('caption', { class: 'error' }, r.reason.message));
    if (p.status === 'fulfilled') plan = p.value;
    else { plan = null; if (inc.state === 'active') err.textContent = 'Plan: ' + p.reason.message; }
    drawPlan();
    drawSightings();
    if (first && reach) { first = false; fitFeatures(map, reach.features.filter(f => f.properties.kind === 'reachability').slice(0, 1)); }
    mapEl.dataset.ready = 'true';
  }
  async function openAlert() {
    const res = await fetch('/api/v1' + path + '/alert', { headers: { Authorization: 'Bearer ' + (session.load()?.token || '') } });
    if (!res.ok) { err.textContent = 'CAP alert: ' + res.status; return; }
    const url = URL.createObjectURL(new Blob([await res.text()], { type: 'text/xml' }));
    const a = h('a', { href: url, download: `incident-${inc.id}-v${inc.version}.xml` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  async function closeIncident() {
    if (!confirm(`Close incident #${inc.id}? Every unit still assigned is released; it cannot be reopened.`)) return;
    try { await api('PATCH', path, { state: 'closed' }); await load(); } catch (e) { err.textContent = e.message; }
  }
  // Another user's sighting, unit or update re-plans here too.
  on((k) => { if (k === 'incident' && String(state.lastIncidentEvent?.incident?.id) === String(id)) load(); });
  await load();
}

// ---- Planning ----
async function renderPlanning(root) {
  if (!state.detainees.size) (await list('/detainees')).forEach(d => state.detainees.set(d.id, d));
  const sites = [...state.sites.values()].sort((a, b) => a.name.localeCompare(b.name));
  const opt = (v, t) => h('option', { value: v }, t);
  const f = {
    ref: h('input', { name: 'ref', required: true, placeholder: 'e.g. MC-2026-0100' }),
    detainee: h('select', { name: 'detainee', required: true }, [...state.detainees.values()].map(d => opt(d.id, d.name))),
    from: h('select', { name: 'from', required: true }, sites.map(s => opt(s.id, `${s.name} (${s.kind})`))),
    to: h('select', { name: 'to', required: true }, sites.map(s => opt(s.id, `${s.name} (${s.kind})`))),
    purpose: h('select', { name: 'purpose' }, ['court_appearance', 'judge_hearing', 'medical', 'transfer'].map(p => opt(p, p.replace('_', ' ')))),
    at: h('input', { name: 'at', type: 'datetime-local', required: true }),
    requester: h('input', { name: 'requester', placeholder: 'court or service asking' }),
  };
  if (sites.length > 1) f.to.selectedIndex = 1;
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'stack', id: 'create-form', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      const m = await api('POST', '/movements', {
        ref: f.ref.value.trim(), detainee_id: Number(f.detainee.value), from_site_id: Number(f.from.value), to_site_id: Number(f.to.value),
        purpose: f.purpose.value, appointment_at: new Date(f.at.value).toISOString(), requester: f.requester.value.trim(),
      });
      state.movements.set(m.id, m);
      form.reset();
      drawList();
    } catch (e2) { err.textContent = e2.message; }
  } },
  h('label', {}, 'Reference', f.ref), h('label', {}, 'Detainee', f.detainee), h('label', {}, 'From', f.from), h('label', {}, 'To', f.to),
  h('label', {}, 'Purpose', f.purpose), h('label', {}, 'Appointment', f.at), h('label', {}, 'Requested by', f.requester),
  h('button', { type: 'submit' }, 'Create movement'));
  const table = h('table', { id: 'planning-table' });
  const dialog = h('dialog', { id: 'release-dialog' });
  root.append(h('h1', {}, 'Planning'), h('h2', {}, 'New movement'), form, err, h('h2', {}, 'To prepare'), table, dialog);

  const step = async (m, action, body = {}) => {
    err.textContent = '';
    try {
      const res = await api('POST', `/movements/${m.id}/${action}`, body);
      state.movements.set(res.movement.id, res.movement);
      if (res.plan) state.plans.set(res.movement.id, res.plan);
      drawList();
      return res;
    } catch (e) { err.textContent = `${m.ref}: ${e.message}`; return null; }
  };
  const confirmRelease = (m) => {
    dialog.replaceChildren(h('form', { method: 'dialog' },
      h('h2', {}, `Release ${m.ref}?`),
      h('p', {}, 'Releasing draws the route and departure time from the strategy and shows them to the escort crew and the control room. It cannot be undone: a new draw needs a new plan.'),
      h('p', {}, h('button', { value: 'cancel', class: 'secondary' }, 'Cancel'), ' ', h('button', { value: 'release', id: 'confirm-release' }, 'Release'))));
    dialog.onclose = () => { if (dialog.returnValue === 'release') step(m, 'release', {}); };
    dialog.showModal();
  };
  function drawList() {
    const ms = [...state.movements.values()].filter(m => ['requested', 'assessed', 'planned', 'released'].includes(m.state))
      .sort((a, b) => new Date(a.appointment_at) - new Date(b.appointment_at));
    table.replaceChildren(
      h('thead', {}, h('tr', {}, ['Ref', 'Route', 'Appointment', 'State', 'Level', 'Next step'].map(c => h('th', {}, c)))),
      h('tbody', {}, ms.map(m => h('tr', { 'data-ref': m.ref },
        h('td', {}, h('a', { href: '#/movement/' + m.id }, m.ref)), h('td', {}, `${siteName(m.from_site_id)} → ${siteName(m.to_site_id)}`),
        h('td', {}, fmtDateTime(m.appointment_at)), h('td', {}, stateChip(m.state)), h('td', {}, m.escort_level || '—'),
        h('td', {},
          ['requested', 'assessed', 'planned'].includes(m.state) ? h('button', { type: 'button', class: 'secondary', onclick: () => step(m, 'assess', {}) }, 'Assess') : null, ' ',
          ['assessed', 'planned'].includes(m.state) ? h('button', { type: 'button', class: 'secondary', onclick: async () => { if (await step(m, 'plan', { options: {} })) location.hash = '#/movement/' + m.id; } }, 'Plan') : null, ' ',
          m.state === 'planned' ? h('button', { type: 'button', onclick: () => confirmRelease(m) }, 'Release…') : null)))));
  }
  on((k) => { if (k === 'movement') drawList(); });
  drawList();
}

// ---- Liaison: expected arrivals at their own site ----
// The API gives a liaison its own view of a movement (no state, route,
// departure, crew or vehicles): status scheduled, arrived or cancelled.
function renderArrivals(root) {
  const site = state.user.site_id;
  const table = h('table', { id: 'arrivals-table' });
  root.append(h('h1', {}, 'Expected arrivals at ' + siteName(site)),
    h('p', { class: 'muted' }, 'Route and time of departure are not disclosed to court liaison; the appointment is the time the detainee is expected by.'), table);
  const status = (m) => m.status === 'arrived' ? `arrived ${fmtDateTime(m.arrived_at)}`
    : m.status === 'cancelled' ? 'will not come' + (m.cancel_reason ? ` (${m.cancel_reason.replaceAll('_', ' ')})` : '') : 'expected';
  function draw() {
    const from = new Date(); from.setHours(0, 0, 0, 0);
    const ms = [...state.movements.values()].filter(m => m.to_site_id === site && (m.status === 'scheduled' || new Date(m.appointment_at) >= from))
      .sort((a, b) => new Date(a.appointment_at) - new Date(b.appointment_at));
    table.replaceChildren(
      h('thead', {}, h('tr', {}, ['Ref', 'From', 'Expected by', 'Purpose', 'Requested by', 'Status'].map(c => h('th', {}, c)))),
      h('tbody', {}, ms.length ? ms.map(m => h('tr', { 'data-ref': m.ref }, h('td', {}, m.ref), h('td', {}, siteName(m.from_site_id)),
        h('td', {}, fmtDateTime(m.appointment_at)), h('td', {}, m.purpose.replace('_', ' ')), h('td', {}, m.requester || ''),
        h('td', {}, h('span', { class: 'state ' + (m.status === 'cancelled' ? 'aborted' : m.status === 'arrived' ? 'released' : '') }, status(m))))) :
        h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No arrival expected.'))));
  }
  on((k) => { if (k === 'movement') draw(); });
  draw();
}

// ---- boot ----
setUnauthorizedHandler(() => { session.clear(); showSignIn('Your session has ended; sign in again.'); });
$('#signin-form').addEventListener('submit', signIn);
$('#signout').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
document.addEventListener('click', unlockAudio, { once: true });
start();
