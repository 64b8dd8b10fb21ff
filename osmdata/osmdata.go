// Package osmdata ships the OpenStreetMap extracts that convoi's demo and
// tests run on, embedded in the binary so that a fresh machine needs nothing
// else.
//
// Map data © OpenStreetMap contributors, available under the Open Database
// License (ODbL 1.0); see NOTICE.md beside this file. Anything that shows or
// ships this data must credit "© OpenStreetMap contributors".
//
// It imports only the standard library.
package osmdata

import _ "embed"

// Attribution is the credit every display of this data must carry.
const Attribution = "© OpenStreetMap contributors (ODbL 1.0)"

// Monaco is monaco.osm.pbf: Monaco and the French communes around it, with
// the A8 motorway and the La Turbie toll plaza. Snapshot of 2016.
//
//go:embed monaco.osm.pbf
var Monaco []byte

// RouenCentre is rouen-centre.osm.pbf: downtown Rouen around the Palais de
// Justice. Snapshot of 2013.
//
//go:embed rouen-centre.osm.pbf
var RouenCentre []byte
