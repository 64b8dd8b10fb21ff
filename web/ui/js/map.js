// The map: MapLibre GL JS (vendored) over convoi's own vector tiles of the
// road graph it routes on, labels drawn from the DejaVu Sans font shipped
// with the binary, and overlays (sites, corridors, vehicles, alarms) fed
// from the API. Nothing is fetched from outside.
import * as maplibregl from '/ui/vendor/maplibre-gl/maplibre-gl.mjs';
import { token } from './api.js';

const FONT = 'DejaVu Sans';
let tileJSON = null;

async function loadTileJSON() {
  if (tileJSON) return tileJSON;
  const res = await fetch('/tiles/tiles.json', { headers: { Authorization: 'Bearer ' + token() } });
  if (!res.ok) throw new Error('The map tiles are not available (' + res.status + ').');
  tileJSON = await res.json();
  return tileJSON;
}

// The reachability bands' colours, by minutes: the nearest the darkest.
export const reachColours = { 5: '#b3001b', 10: '#d9601a', 15: '#e0a400', 20: '#8a9a5b' };

export const roadColours = {
  fast: '#d9601a', main: '#e0a400', ramp: '#e08a4a', local: '#ffffff', minor: '#ffffff',
};

function style(tj) {
  const origin = location.origin;
  const road = (id, cls, width, colour, extra = {}) => ({
    id, type: 'line', source: 'roads', 'source-layer': 'roads',
    filter: ['==', ['get', 'class'], cls],
    layout: { 'line-cap': 'round', 'line-join': 'round' },
    paint: {
      'line-color': colour,
      'line-width': ['interpolate', ['exponential', 1.6], ['zoom'], 8, width[0], 13, width[1], 18, width[2]],
      ...extra,
    },
  });
  const casing = (id, cls, width) => road(id, cls, width, '#9aa3ad', {});
  return {
    version: 8,
    name: 'convoi',
    'font-faces': { [FONT]: origin + '/ui/fonts/DejaVuSans.ttf' },
    sources: {
      roads: {
        type: 'vector', tiles: tj.tiles, minzoom: tj.minzoom, maxzoom: tj.maxzoom,
        bounds: tj.bounds, attribution: tj.attribution,
      },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#eceee6' } },
      casing('minor-casing', 'minor', [0.5, 2.5, 9]),
      casing('local-casing', 'local', [0.8, 4, 14]),
      road('minor', 'minor', [0.2, 1.5, 7], roadColours.minor),
      road('local', 'local', [0.4, 2.8, 12], roadColours.local),
      road('ramp', 'ramp', [0.6, 2.5, 10], roadColours.ramp),
      road('main', 'main', [1, 4, 16], roadColours.main),
      road('fast', 'fast', [1.5, 5, 20], roadColours.fast),
      {
        id: 'tunnels', type: 'line', source: 'roads', 'source-layer': 'roads', filter: ['==', ['get', 'tunnel'], true],
        paint: { 'line-color': '#5c6670', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 1, 16, 4], 'line-dasharray': [2, 1.5] },
      },
      {
        id: 'chokepoints', type: 'circle', source: 'roads', 'source-layer': 'chokepoints',
        // Signals, level crossings and barriers only when zoomed right in.
        filter: ['any', ['!', ['in', ['get', 'kind'], ['literal', ['traffic_signals', 'level_crossing', 'barrier']]]], ['>=', ['zoom'], 15]],
        paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 3, 16, 6],
          'circle-color': ['match', ['get', 'kind'],
            'toll_booth', '#7b2cbf', 'toll_road', '#7b2cbf', 'tunnel', '#3a414b', 'bridge', '#8a5a00',
            'ramp', '#d9601a', 'roundabout', '#0b5cad', 'level_crossing', '#b3001b', '#545d68'],
          'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1,
        },
      },
      {
        id: 'chokepoint-labels', type: 'symbol', source: 'roads', 'source-layer': 'chokepoints',
        filter: ['all', ['!=', ['get', 'name'], ''], ['in', ['get', 'kind'], ['literal', ['toll_booth', 'tunnel', 'bridge', 'toll_road']]]],
        layout: {
          'text-field': ['get', 'name'], 'text-font': [FONT], 'text-size': 12,
          'text-offset': [0, 1.1], 'text-anchor': 'top', 'text-max-width': 10,
        },
        paint: { 'text-color': '#1b1f24', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
      },
    ],
  };
}

// createMap makes a map in el, centred on the road graph. overlays lists
// the overlay sources to add: 'sites', 'corridors', 'vehicles', 'alarms',
// and the incident screen's 'reach', 'escapes', 'units', 'sightings'.
export async function createMap(el, overlays = []) {
  const tj = await loadTileJSON();
  const map = new maplibregl.Map({
    container: el,
    style: style(tj),
    center: [tj.center[0], tj.center[1]],
    zoom: tj.center[2],
    attributionControl: { compact: false },
    transformRequest: (url) => {
      if (url.startsWith(location.origin + '/tiles/')) {
        return { url, headers: { Authorization: 'Bearer ' + token() } };
      }
      return { url };
    },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  await new Promise((resolve) => map.once('load', resolve));
  const empty = { type: 'FeatureCollection', features: [] };
  for (const o of overlays) map.addSource(o, { type: 'geojson', data: empty });
  // The incident screen's layers (docs/ui.md, "Incidents"): reachability
  // bands (largest first, so the smaller draw on top), the sampled escape
  // routes as faint lines (cut ones dashed), units, roadblocks, sightings.
  if (overlays.includes('reach')) {
    map.addLayer({
      id: 'reach', type: 'fill', source: 'reach', filter: ['==', ['get', 'kind'], 'reachability'],
      paint: { 'fill-color': ['match', ['get', 'minutes'], 5, reachColours[5], 10, reachColours[10], 15, reachColours[15], reachColours[20]], 'fill-opacity': 0.3 },
    });
    map.addLayer({
      id: 'reach-outline', type: 'line', source: 'reach', filter: ['==', ['get', 'kind'], 'reachability'],
      paint: { 'line-color': ['match', ['get', 'minutes'], 5, reachColours[5], 10, reachColours[10], 15, reachColours[15], reachColours[20]], 'line-width': 1.5 },
    });
  }
  if (overlays.includes('escapes')) {
    map.addLayer({
      id: 'escapes', type: 'line', source: 'escapes',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': ['case', ['get', 'cut'], '#0b5cad', '#b3001b'], 'line-width': 1.5, 'line-opacity': 0.18 },
    });
  }
  if (overlays.includes('units')) {
    map.addLayer({
      id: 'unit-links', type: 'line', source: 'units', filter: ['==', ['geometry-type'], 'LineString'],
      paint: { 'line-color': '#0b2e57', 'line-width': 1.5, 'line-dasharray': [2, 2] },
    });
    map.addLayer({
      id: 'units', type: 'circle', source: 'units', filter: ['==', ['get', 'kind'], 'unit'],
      paint: {
        'circle-radius': 7, 'circle-color': ['case', ['get', 'assigned'], '#0b2e57', '#ffffff'],
        'circle-stroke-color': '#0b2e57', 'circle-stroke-width': 2.5,
      },
    });
    map.addLayer({
      id: 'roadblocks', type: 'circle', source: 'units', filter: ['==', ['get', 'kind'], 'roadblock'],
      paint: { 'circle-radius': 9, 'circle-color': '#0b5cad', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 3 },
    });
    map.addLayer({
      id: 'unit-labels', type: 'symbol', source: 'units', filter: ['has', 'label'],
      layout: { 'text-field': ['get', 'label'], 'text-font': [FONT], 'text-size': 11, 'text-offset': [0, 1.3], 'text-anchor': 'top', 'text-max-width': 12, 'text-optional': true },
      paint: { 'text-color': '#0b2e57', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
    });
  }
  if (overlays.includes('sightings')) {
    map.addLayer({
      id: 'sightings', type: 'circle', source: 'sightings',
      paint: {
        'circle-radius': ['case', ['get', 'pending'], 10, 8], 'circle-color': ['case', ['get', 'attack'], '#b3001b', '#7b2cbf'],
        'circle-opacity': ['case', ['get', 'pending'], 0.4, 1], 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
      },
    });
    map.addLayer({
      id: 'sighting-labels', type: 'symbol', source: 'sightings', filter: ['has', 'label'],
      layout: { 'text-field': ['get', 'label'], 'text-font': [FONT], 'text-size': 11, 'text-offset': [0, -1.4], 'text-anchor': 'bottom', 'text-optional': true },
      paint: { 'text-color': '#4a1a70', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
    });
  }
  if (overlays.includes('corridors')) {
    map.addLayer({
      id: 'corridors', type: 'line', source: 'corridors',
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: {
        'line-color': ['coalesce', ['get', 'colour'], '#0b5cad'],
        'line-width': ['interpolate', ['linear'], ['zoom'], 10, 3, 16, 8],
        'line-opacity': ['coalesce', ['get', 'opacity'], 0.75],
      },
    });
    map.addLayer({
      id: 'corridor-labels', type: 'symbol', source: 'corridors', filter: ['has', 'label'],
      layout: { 'symbol-placement': 'line', 'text-field': ['get', 'label'], 'text-font': [FONT], 'text-size': 12 },
      paint: { 'text-color': '#0b2e57', 'text-halo-color': '#ffffff', 'text-halo-width': 2 },
    });
  }
  if (overlays.includes('sites')) {
    map.addLayer({
      id: 'sites', type: 'circle', source: 'sites',
      paint: { 'circle-radius': 6, 'circle-color': '#1b1f24', 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 },
    });
    map.addLayer({
      id: 'site-labels', type: 'symbol', source: 'sites',
      layout: { 'text-field': ['get', 'name'], 'text-font': [FONT], 'text-size': 12, 'text-offset': [0, 1], 'text-anchor': 'top', 'text-max-width': 12 },
      paint: { 'text-color': '#1b1f24', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
    });
  }
  if (overlays.includes('alarms')) {
    map.addLayer({
      id: 'alarms', type: 'circle', source: 'alarms',
      paint: {
        'circle-radius': 12, 'circle-color': 'rgba(0,0,0,0)',
        'circle-stroke-width': 4,
        'circle-stroke-color': ['match', ['get', 'severity'], 2, '#b3001b', 1, '#b07d00', '#0b5cad'],
      },
    });
  }
  if (overlays.includes('vehicles')) {
    map.addLayer({
      id: 'vehicles', type: 'circle', source: 'vehicles',
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 4, 15, 8],
        'circle-color': ['case', ['get', 'escort'], '#0b5cad', '#2f8f46'],
        'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
      },
    });
    map.addLayer({
      // Labels of escort vehicles (of all when there are few) from zoom
      // 12, of every vehicle from 15: thousands of labels would cost more
      // than the map.
      id: 'vehicle-labels', type: 'symbol', source: 'vehicles', minzoom: 12,
      filter: ['any', ['get', 'labelled'], ['>=', ['zoom'], 15]],
      layout: { 'text-field': ['get', 'label'], 'text-font': [FONT], 'text-size': 11, 'text-offset': [0, 1.2], 'text-anchor': 'top', 'text-optional': true },
      paint: { 'text-color': '#0b2e57', 'text-halo-color': '#ffffff', 'text-halo-width': 1.5 },
    });
  }
  return map;
}

export function setData(map, source, features) {
  map.getSource(source)?.setData({ type: 'FeatureCollection', features });
}

export function line(coords, props = {}) {
  return { type: 'Feature', properties: props, geometry: { type: 'LineString', coordinates: coords.map(p => [p.lon, p.lat]) } };
}

export function point(lat, lon, props = {}) {
  return { type: 'Feature', properties: props, geometry: { type: 'Point', coordinates: [lon, lat] } };
}

export function fitLines(map, lines) {
  const b = new maplibregl.LngLatBounds();
  let n = 0;
  for (const l of lines) for (const p of l) { b.extend([p.lon, p.lat]); n++; }
  if (n > 1) map.fitBounds(b, { padding: 40, duration: 0, maxZoom: 15 });
}

// fitFeatures fits the map to the coordinates of GeoJSON features.
export function fitFeatures(map, features) {
  const b = new maplibregl.LngLatBounds();
  let n = 0;
  const walk = (c) => { if (typeof c[0] === 'number') { b.extend(c); n++; } else c.forEach(walk); };
  for (const f of features) walk(f.geometry.coordinates);
  if (n > 1) map.fitBounds(b, { padding: 30, duration: 0, maxZoom: 15 });
}
