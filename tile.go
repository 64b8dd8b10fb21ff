package convoi

import "context"

// TileService renders the control room's map (package tiles): Mapbox
// Vector Tiles of the road network convoi routes on, whatever the extract.
// Tiles hold public map data only, never a movement or a schedule.
type TileService interface {
	// Tile returns tile z/x/y as a gzip-compressed Mapbox Vector Tile, nil
	// when the tile holds nothing. A zoom outside the set's range or
	// coordinates outside the zoom are EINVALID.
	Tile(ctx context.Context, z, x, y int) ([]byte, error)
	// TileSet describes the tiles for a map client.
	TileSet() TileSet
}

// TileSet describes a set of vector tiles, as TileJSON does.
type TileSet struct {
	Name        string
	MinZoom     int
	MaxZoom     int
	Bounds      [4]float64 // west, south, east, north, degrees
	Center      [3]float64 // lon, lat, zoom
	Attribution string     // HTML, shown on every map drawn from the tiles
	Layers      []TileLayer
}

// TileLayer describes one layer of a TileSet: its features' fields (name
// to description) and the zooms it appears at.
type TileLayer struct {
	ID      string            `json:"id"`
	Fields  map[string]string `json:"fields"`
	MinZoom int               `json:"minzoom"`
	MaxZoom int               `json:"maxzoom"`
}
